// What a role of the daemon reaches besides its own state (private to veil_node).
//
// Each role of the daemon (executor.h, telemetry_role.h, scheduler_role.h, committee_role.h,
// coordinator_role.h) owns its state and sees the rest of the node only through this
// interface: who it is, the clock, the io thread and the two workers, requests to peers,
// gossip, the live registered members, the state database, metrics, the cluster's keys, and
// the few questions a role asks the others. Daemon::Impl implements it; a unit test implements it with an io_context, a worker
// and a temporary database, no network or chain.
//
// Threading: every method is called on the io thread, except post() (any thread), self() and
// keys() (immutable once the node runs: any thread) and image_allowed() (the blocking worker
// only).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "veil/chain/evidence.h"
#include "veil/chain/types.h"
#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/fhe/fhe.h"
#include "veil/node/metrics.h"
#include "veil/node/protocol.h"
#include "veil/node/state_store.h"
#include "veil/sched/resources.h"
#include "veil/sched/telemetry_record.h"

namespace veil::node {

// The cluster's public FHE material and this node's committee membership.
struct ClusterKeys {
  fhe::CompactPublicKey public_key;
  fhe::ServerKey server_key;
  fhe::threshold::Committee committee;
  std::vector<std::string> member_peers;  // committee member i+1 -> PeerId text
  std::optional<fhe::threshold::MemberSecretKey> member_key;
  std::optional<fhe::threshold::KeyShare> share;
};

class NodeContext {
 public:
  using OnReply = std::function<void(Result<Bytes>)>;
  using Reply = std::function<void(Bytes)>;
  // `agreed`: the agreed decision hash hex, and `round` the round it belongs to; or the error
  // (and no round) when the decision is not agreed and will not become so.
  using AgreedCallback = std::function<void(const Result<std::string>& agreed, const ScheduleRequest* round)>;

  virtual ~NodeContext() = default;

  // This node's PeerId text.
  virtual const std::string& self() const = 0;
  // Wall-clock milliseconds since the epoch (what reports and events carry).
  virtual std::int64_t now_ms() const = 0;
  // True once shut-down began: periodic work stops rescheduling itself.
  virtual bool stopping() const = 0;
  // The io thread's context, for a role's timers. Its handlers run on the io thread.
  virtual boost::asio::io_context& io() = 0;
  // Runs `task` on the io thread later; safe from any thread.
  void post(std::function<void()> task) { boost::asio::post(io(), std::move(task)); }
  // Runs `task` on the blocking worker (chain RPC, container driver), in posting order. The
  // task hands its results back with post().
  virtual void post_blocking(std::function<void()> task) = 0;
  // Runs `task` on the FHE worker (encryption, evaluation, partial decryption), in posting
  // order; the same hand-back rule.
  virtual void post_fhe(std::function<void()> task) = 0;
  // Runs `task` on the FHE worker before every post_fhe task not yet started (Worker::post_first):
  // a committee member's partial decryption, which a coordinator waits on.
  virtual void post_fhe_first(std::function<void()> task) = 0;
  // Publishes `data` on the gossip topic `topic`.
  virtual void publish(const std::string& topic, const Bytes& data) = 0;
  // Measures the round-trip time to `peer` over its open connection (libp2p ping); `done`
  // runs on the io thread, with an error when there is no connection or no answer.
  using OnRtt = std::function<void(Result<std::chrono::nanoseconds>)>;
  virtual void ping(const std::string& peer, OnRtt done) = 0;
  // Sends `message` to `peer` on a new stream of `protocol` and calls `on_reply` on the io
  // thread with its one reply, or with the error (unreachable peer, reset stream).
  virtual void request(const std::string& peer, std::string_view protocol, Bytes message,
                       OnReply on_reply) = 0;

  // Members SWIM sees alive or suspect that the registry lists, sorted (this node included).
  virtual std::vector<std::string> live_members() const = 0;
  // Whether the registry lists `peer` as an active node.
  virtual bool is_registered(const std::string& peer) const = 0;
  // Whether SWIM declared `peer` dead or saw it leave (a peer never seen is not known dead).
  virtual bool declared_dead(const std::string& peer) const = 0;
  // Registered members SWIM knows that did not leave gracefully: alive, suspect or dead.
  virtual std::size_t known_members() const = 0;

  virtual StateStore& store() = 0;
  virtual MetricsRegistry& metrics() = 0;
  virtual const ClusterKeys& keys() const = 0;

  // ---- questions to the other roles ----
  // The scheduler role: calls `then` once a quorum of the round's schedulers announced
  // `record` for round `round` of `job` coordinated by `coordinator` (waiting a few seconds
  // for gossip), or with the error when it is not agreed.
  virtual void when_decision_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                                    sched::DecisionRecord record, AgreedCallback then) = 0;
  // The chain: whether this node's operator may run the image with `digest`. Blocking: call it
  // on the blocking worker only.
  virtual Result<bool> image_allowed(const chain::Hash32& digest) = 0;
  // The chain: whether the cluster's governance allows placement policy `policy` (every
  // policy, while it names none).
  virtual bool policy_allowed(std::string_view policy) const = 0;
  // The coordinator role of this node: a ReplicaReport about a job this node coordinates
  // itself. `reply` gets the AssignmentAck, possibly later, on any thread.
  virtual void report_to_local_coordinator(Bytes report, Reply reply) = 0;
  // The executor role: what the replicas on this node were promised (telemetry offers the
  // measured capacity minus this).
  virtual sched::FreeCapacity reserved_capacity() const = 0;

  // ---- signed announcements (docs/chain.md, "Slashing") ----
  // The EIP-712 domain announcements are signed in (the chain's id and the registry), when
  // this node has a chain view; without one (a unit test's context) nothing is signed or checked.
  virtual std::optional<chain::RegistryDomain> announcement_domain() const = 0;
  // The operator the registry binds `peer` to, while it lists `peer` as an active node of a
  // staked operator.
  virtual std::optional<chain::Address> operator_of(const std::string& peer) const = 0;
  // `digest` signed with this node's operator key (65 bytes r ‖ s ‖ v); empty without one.
  virtual Bytes sign_as_operator(const Hash32& digest) const = 0;
  // Opens job secrets sealed to this node's identity (secret_box.h); name -> value.
  virtual Result<std::map<std::string, std::string>> open_secrets(const std::map<std::string, Bytes>& sealed) const = 0;
  // Scheduler `scheduler` equivocated and `evidence`, checked to recover to `signer`, proves
  // it: submit it to the registry (once, unless the chain already used it).
  virtual void report_equivocation(const std::string& scheduler, const chain::Evidence& evidence,
                                   const chain::Address& signer) = 0;
  // Scheduler `scheduler` announced a decision that contradicts the quorum decision anchored
  // for the same job, round and inputs; `contradiction`, checked to recover to `signer`, proves
  // it: submit it to the registry (once, unless the chain already used the lie's id).
  virtual void report_contradiction(const std::string& scheduler, const chain::Contradiction& contradiction,
                                    const chain::Address& signer) = 0;
};

}  // namespace veil::node
