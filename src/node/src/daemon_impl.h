// The daemon's state and the roles that act on it (private to veil_node). daemon.cc wires the
// roles and owns start-up and shut-down; api_routes.cc and peer_queries.cc serve the API. Each role
// is an object of its own (executor.h, telemetry_role.h, scheduler_role.h, committee_role.h,
// coordinator_role.h) that owns its state and reaches the rest through the NodeContext
// (node_context.h) that Impl implements; Impl keeps the network, the chain and the API.
//
// Threading: every member below is touched only on the io thread, except where a comment
// says otherwise. Blocking work goes to `blocking_` (chain RPC, container driver) or `fhe_`
// (encryption, evaluation, partial decryption) and comes back with post().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "executor.h"
#include "committee_role.h"
#include "coordinator_role.h"
#include "node_context.h"
#include "scheduler_role.h"
#include "secret_box.h"
#include "telemetry_role.h"
#include "veil/chain/veil_registry.h"
#include "veil/common/config.h"
#include "veil/common/log.h"
#include "veil/fhe/fhe.h"
#include "veil/node/api_server.h"
#include "veil/node/daemon.h"
#include "veil/node/job_replication.h"
#include "veil/node/job_state.h"
#include "veil/node/metrics.h"
#include "veil/node/protocol.h"
#include "veil/node/state_store.h"
#include "veil/node/system_probe.h"
#include "veil/p2p/gossipsub.h"
#include "veil/p2p/host.h"
#include "veil/runtime/driver.h"
#include "veil/runtime/reconciler.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/telemetry_record.h"
#include "veil/swim/libp2p_binding.h"
#include "worker.h"

namespace veil::node {

// Settings resolved from the Config (docs/operations.md).
struct Settings {
  std::filesystem::path data_dir, key_file, cluster_dir, member_key_file, share_file, eth_key_file;
  std::optional<p2p::PeerId> expected_peer;  // node.peerid: start fails unless key_file is this peer
  std::filesystem::path public_key_file;     // zama.publickey_file; empty: cluster_dir/public.key
  std::vector<p2p::Multiaddr> listen, bootstrap;
  std::string rpc, contract;
  std::string api_host;
  std::uint16_t api_port = 0;
  std::chrono::milliseconds telemetry_interval{10000};
  DeclaredCapacity cap;
  runtime::DriverKind driver = runtime::DriverKind::kAuto;
  std::string docker_socket;
  std::size_t schedulers = 3;
  std::size_t job_holders = kDefaultJobHolders;  // jobs.holders: copies of each job's record
  // chain.anchor.batch_size and chain.anchor.batch_max_age (docs/chain.md, "Batched anchoring")
  std::size_t anchor_batch_size = 1;
  std::chrono::milliseconds anchor_batch_max_age{10000};
  std::chrono::milliseconds committee_hedge{3000};  // committee.hedge; 0: ask every member at once
  std::string swim_preset = "lan";
  bool tamper_decisions = false;
  bool equivocate_decisions = false;
  std::chrono::milliseconds evaluation_delay{0};
  bool fixed_telemetry = false;
  std::string wire_dump;
  // node.labels and the names of node.host_volumes: published in each telemetry record.
  sched::NodeAttributes attributes;
  std::map<std::string, std::filesystem::path> host_volumes;  // name -> absolute host directory
  sched::CandidateCount candidates;  // sched.candidates
};
Result<Settings> load_settings(const Config& config);

// What the chain says about stake (docs/chain.md, "Stake"), read on the blocking worker with
// the node registry.
struct StakeView {
  bool read = false;                         // false: the chain could not be read (see error)
  std::string error;
  chain::U256 min_stake;                     // 0: no minimum, nobody is gated
  std::set<std::string> unstaked_operators;  // checksum addresses of operators below it
  std::map<std::string, chain::U256> bonded;  // every active node's operator (and this node's): bonded wei
  // Slashed events since the last read (none when they could not be read; see slashes_error).
  std::vector<chain::VeilRegistry::SlashedEvent> new_slashes;
  std::string slashes_error;
};

struct Daemon::Impl : NodeContext {
  explicit Impl(Settings settings);
  ~Impl() override;

  // ---- daemon.cc: wiring ----
  Status start();  // the stages below, in order
  Status prepare_data_dir();
  Result<p2p::KeyPair> load_identity();
  Result<fhe::threshold::Hash> load_cluster_keys();
  Status load_committee_membership();
  Status connect_chain(const fhe::threshold::Hash& server_key_hash);
  Status open_executor();
  void make_telemetry_role();
  void make_scheduler_role();
  Status start_network(const p2p::KeyPair& identity);
  Status start_api();
  Status restore_and_start_work();
  Status run();
  void request_stop();
  void shutdown_gracefully();
  // NodeContext (node_context.h), for the roles that are objects of their own.
  const std::string& self() const override { return self_text_; }
  std::int64_t now_ms() const override;
  bool stopping() const override { return stopping_; }
  boost::asio::io_context& io() override { return io_; }
  void post_blocking(std::function<void()> task) override { blocking_->post(std::move(task)); }
  void post_fhe(std::function<void()> task) override { fhe_->post(std::move(task)); }
  void post_fhe_first(std::function<void()> task) override { fhe_->post_first(std::move(task)); }
  void ping(const std::string& peer, OnRtt done) override;
  bool is_registered(const std::string& peer) const override;
  sched::FreeCapacity reserved_capacity() const override { return executor_->reserved_capacity(); }
  StateStore& store() override { return *store_; }
  MetricsRegistry& metrics() override { return metrics_; }
  const ClusterKeys& keys() const override { return keys_; }
  Result<bool> image_allowed(const chain::Hash32& digest) override;
  bool policy_allowed(std::string_view policy) const override;
  void when_decision_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                            sched::DecisionRecord record, AgreedCallback then) override {
    scheduler_->when_decision_agreed(coordinator, job, round, std::move(record), std::move(then));
  }
  void report_to_local_coordinator(Bytes report, Reply reply) override {
    coordinator_->handle_report(self_text_, std::move(report), std::move(reply));
  }
  bool declared_dead(const std::string& peer) const override;
  std::size_t known_members() const override;
  // ---- stake.cc: signed announcements and slashing ----
  std::optional<chain::RegistryDomain> announcement_domain() const override { return domain_; }
  std::optional<chain::Address> operator_of(const std::string& peer) const override;
  Bytes sign_as_operator(const Hash32& digest) const override;
  Result<std::map<std::string, std::string>> open_secrets(const std::map<std::string, Bytes>& sealed) const override {
    return secret_opener_.open_all(sealed);
  }
  void report_equivocation(const std::string& scheduler, const chain::Evidence& evidence,
                           const chain::Address& signer) override;
  void report_contradiction(const std::string& scheduler, const chain::Contradiction& contradiction,
                            const chain::Address& signer) override;
  // Submits one proven lie (`kind`: "equivocating", "contradicting the anchored decision") on
  // the blocking worker unless this node or the chain has seen its id; logs and records the slash.
  void submit_lie(const std::string& scheduler, const Hash32& job_id, const chain::Hash32& id, const chain::Address& signer,
                  std::string kind, std::string evidence_json,
                  std::function<Result<chain::VeilRegistry::Slash>(chain::VeilRegistry&)> submit);

  void publish(const std::string& topic, const Bytes& data) override;
  void wire_dump(std::string_view direction, std::string_view kind, const std::string& peer, ByteView data);
  // Sends one message on a new stream and reads one reply (empty protocol reply allowed).
  void request(const std::string& peer, std::string_view protocol, Bytes message, OnReply on_reply) override;
  void serve(std::string_view protocol, std::function<void(const std::string& peer, Bytes message,
                                                            std::function<void(Bytes)> reply)> handler);
  std::vector<std::string> live_members() const override;
  void on_member_event(const swim::MemberEvent& event);
  void refresh_chain_view();
  void apply_chain_view(const Result<std::vector<chain::VeilRegistry::NodeInfo>>& nodes, const Result<Bytes>& policy,
                        const StakeView& stake);
  // ---- stake.cc: stake gating ----
  // Blocking worker: the minimum stake and, when it is above 0, which operators of `nodes`
  // (and this node's own) are below it.
  StakeView read_stake_view(const Result<std::vector<chain::VeilRegistry::NodeInfo>>& nodes);
  // Blocking worker: the Slashed events since the last read, into `view`.
  void read_new_slashes(StakeView& view);
  // Io thread, from apply_chain_view: removes the nodes of unstaked operators from `active`
  // (so the gater refuses them and they are neither scheduled nor counted) and closes their
  // connections; when this node's own operator fell below the minimum, drains its replicas and
  // refuses assignments until it is staked again.
  void apply_stake_view(const StakeView& stake, std::map<chain::Hash32, std::string>& active);
  // "staked", "unstaked", or "no minimum" (min stake 0), for /v1/status.
  std::string stake_state() const;
  // The bonded wei of `operator_address` as of the last chain read, decimal; "" when unknown.
  std::string bonded_of(const std::string& operator_address) const;

  // The coordinator role's chain call (blocking worker only): anchors `commitment` unless it
  // is anchored already, and says where it is.
  AnchorInfo anchor_on_chain(const chain::VeilRegistry::Commitment& commitment);
  AnchorInfo anchor_batch_on_chain(const Hash32& root, std::uint32_t size, bool may_send);
  void make_coordinator_role();

  // ---- peer_queries.cc: what the API asks the other members ----
  // Records held elsewhere, for `job status|ls` on any node but the coordinator: every live
  // member is asked (kGet of `id`, or kList when `id` is zero) and what arrives within a few seconds is
  // returned, the newest copy of each job, with the member that sent it.
  boost::asio::awaitable<std::vector<std::pair<std::string, JobState>>> ask_members_for_jobs(const Hash32& id);
  // The newest copy of a job's record that this node (`own`, when it holds one) or a live member
  // holds, as GET /v1/jobs/{id} shows it ("answered_by" names a member whose copy is newer);
  // nullopt when nobody knows the job. The arguments must outlive the call (captures of the
  // route's deferred handler): with by-value parameters made from temporaries in the co_await
  // expression (a std::function from a lambda), nodes built by GCC 12.2 aborted with
  // "malloc_consolidate(): unaligned fastbin chunk" after the first audit; named arguments
  // passed by reference do not.
  boost::asio::awaitable<std::optional<nlohmann::json>> newest_job_json(const std::string& wanted, const Hash32& id,
                                                                        const std::optional<JobState>& own);
  // Runs `work` on the blocking worker (chain reads) and resumes on the node's executor with
  // its result, so an API handler can wait for it without blocking the node. `work` must
  // outlive the call, as above.
  boost::asio::awaitable<Result<nlohmann::json>> on_blocking_worker(const std::function<Result<nlohmann::json>()>& work);
  // Sends `message` on `protocol` to each of `peers` at once and returns each one's reply once
  // all answered or `timeout` passed; a peer that has not answered by then has a
  // deadline_exceeded error.
  boost::asio::awaitable<std::map<std::string, Result<Bytes>>> ask_peers(const std::set<std::string>& peers,
                                                                       std::string_view protocol, Bytes message,
                                                                       std::chrono::milliseconds timeout);
  // Asks each of `nodes` for its replicas' logs of job `id` (/veil/logs/1.0.0); what has not
  // answered within a few seconds is an error in the result.
  boost::asio::awaitable<std::vector<std::pair<std::string, Result<LogsReply>>>> ask_nodes_for_logs(
      const Hash32& id, const std::set<std::string>& nodes, std::uint32_t tail);

  // ---- api_routes.cc ----
  void register_routes();
  nlohmann::json job_json(const JobState& job, bool detail);

  // ---- state ----
  Settings settings_;
  boost::asio::io_context io_;
  std::unique_ptr<StateStore> store_;
  MetricsRegistry metrics_;
  std::unique_ptr<p2p::Host> host_;
  std::unique_ptr<p2p::GossipSub> pubsub_;
  std::unique_ptr<swim::Libp2pMembership> members_;
  std::unique_ptr<ApiServer> api_;
  std::string self_text_;
  Topics topics_;
  std::chrono::steady_clock::time_point started_at_;
  std::atomic<bool> stopping_{false};

  // Chain (the EthClient and registry are used on blocking_ only).
  std::unique_ptr<chain::EthClient> eth_;
  std::optional<chain::PrivateKey> eth_key_;
  std::unique_ptr<chain::Transactor> sender_;
  std::optional<chain::VeilRegistry> registry_;
  std::string operator_address_;
  std::uint64_t chain_id_ = 0;
  // Active nodes of the registry: keccak(PeerId) -> operator address (what the gater checks),
  // and the same for the PeerIds we know by name (for display).
  std::map<chain::Hash32, std::string> registered_by_hash_;
  std::map<std::string, std::string> registered_;
  std::vector<std::string> allowed_policies_;
  // The domain this node signs announcements in and checks them against (set by connect_chain).
  std::optional<chain::RegistryDomain> domain_;
  // Evidence ids this node has submitted or found used: each is sent at most once.
  std::set<chain::Hash32> evidence_reported_;
  // The last stake view read: the minimum, operators below it and their nodes (which are not in
  // registered_by_hash_), whether this node's own operator is below it, and whether the
  // executor was drained for that.
  chain::U256 min_stake_;
  std::set<std::string> unstaked_operators_;
  std::map<std::string, chain::U256> bonded_;  // operator (checksum) -> bonded wei, from the last view
  std::deque<chain::VeilRegistry::SlashedEvent> slashes_;  // the newest kSlashesKept, oldest first
  static constexpr std::size_t kSlashesKept = 100;
  std::uint64_t slashes_read_to_ = 0;  // blocking worker only: the next block to read Slashed events from
  std::map<chain::Hash32, std::string> unstaked_nodes_;
  bool self_unstaked_ = false, drained_for_stake_ = false;

  ClusterKeys keys_;
  std::unique_ptr<SystemProbe> probe_;
  std::unique_ptr<Executor> executor_;  // made once the container driver is open
  std::unique_ptr<TelemetryRole> telemetry_;
  std::unique_ptr<SchedulerRole> scheduler_;
  std::unique_ptr<CommitteeRole> committee_;
  std::unique_ptr<CoordinatorRole> coordinator_;
  // The libp2p identity's Ed25519 secret, which signs telemetry: handed to the telemetry role
  // and wiped here once it is made.
  SecretOpener secret_opener_;  // derived from the identity before it is wiped
  sched::Ed25519SecretKey identity_secret_{};

  std::unique_ptr<boost::asio::steady_timer> chain_timer_;
  std::mutex dump_mutex_;

  // Declared last: destroyed first, so their queued work finishes while the state exists.
  std::unique_ptr<Worker> blocking_;
  std::unique_ptr<Worker> fhe_;
};

// Posts `f` to the io thread.
template <typename F>
void on_io(Daemon::Impl& d, F&& f) {
  boost::asio::post(d.io_, std::forward<F>(f));
}

}  // namespace veil::node
