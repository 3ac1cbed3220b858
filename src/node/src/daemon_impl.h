// The daemon's state and the roles that act on it (private to veil_node). Each role lives in
// its own file: telemetry.cc, scheduler_role.cc, committee_role.cc, coordinator.cc,
// executor.cc, api_routes.cc; daemon.cc wires them and owns start-up and shut-down.
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

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "veil/chain/veil_registry.h"
#include "veil/common/config.h"
#include "veil/common/log.h"
#include "veil/fhe/fhe.h"
#include "veil/node/api_server.h"
#include "veil/node/daemon.h"
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

namespace veil::node {

// A thread that runs posted functions in order.
class Worker {
 public:
  explicit Worker(std::string name);
  ~Worker();  // runs what is queued, then joins
  void post(std::function<void()> task);
  std::size_t pending() const;

 private:
  void loop();
  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

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
  std::string swim_preset = "lan";
  bool tamper_decisions = false;
  std::chrono::milliseconds evaluation_delay{0};
  bool fixed_telemetry = false;
  std::string wire_dump;
};
Result<Settings> load_settings(const Config& config);

// The cluster's public FHE material and this node's committee membership.
struct ClusterKeys {
  fhe::CompactPublicKey public_key;
  fhe::ServerKey server_key;
  fhe::threshold::Committee committee;
  std::vector<std::string> member_peers;  // committee member i+1 -> PeerId text
  std::optional<fhe::threshold::MemberSecretKey> member_key;
  std::optional<fhe::threshold::KeyShare> share;
};

// One telemetry record kept for scheduling (the last few per node).
struct KnownTelemetry {
  Hash32 hash{};
  std::uint64_t timestamp_ms = 0;
  std::shared_ptr<const sched::EncryptedTelemetry> telemetry;
};

// Work in flight for the current round of a coordinated job (not persisted: a restarted
// coordinator starts a new round).
struct RoundProgress {
  std::map<std::string, sched::DecisionRecord> records;  // decision hash hex -> full record
  bool decrypting = false;
  bool decided = false;
  std::map<std::string, DecryptResponse> responses;  // member peer -> response
  std::vector<fhe::threshold::EncryptedValue> values;
  std::unique_ptr<boost::asio::steady_timer> deadline;
};

// A replica this node runs (persisted as a kReplicaDoc document).
struct LocalReplica {
  Hash32 job{};
  std::uint32_t replica = 0;
  std::uint32_t round = 0;  // the round whose assignment this node accepted
  std::string coordinator;
  std::string spec_yaml;
  sched::JobSpec spec;
  std::uint16_t host_port = 0;  // chosen once, kept across restarts
  std::string last_reported;
};

struct Daemon::Impl {
  explicit Impl(Settings settings);
  ~Impl();

  // ---- daemon.cc: wiring ----
  Status start();
  Status run();
  void request_stop();
  void shutdown_gracefully();
  std::int64_t now_ms() const;
  std::string self() const { return self_text_; }
  void publish(const std::string& topic, const Bytes& data);
  void wire_dump(std::string_view direction, std::string_view kind, const std::string& peer, ByteView data);
  // Sends one message on a new stream and reads one reply (empty protocol reply allowed).
  void request(const std::string& peer, std::string_view protocol, Bytes message,
               std::function<void(Result<Bytes>)> on_reply);
  void serve(std::string_view protocol, std::function<void(const std::string& peer, Bytes message,
                                                            std::function<void(Bytes)> reply)> handler);
  bool is_live(const std::string& peer) const;
  std::vector<std::string> live_members() const;  // alive or suspect, registered, sorted
  void on_member_event(const swim::MemberEvent& event);
  void refresh_chain_view();
  void apply_chain_view(const Result<std::vector<chain::VeilRegistry::NodeInfo>>& nodes, const Result<Bytes>& policy);
  void add_job_event(const Hash32& job, const std::string& message);

  // ---- telemetry.cc ----
  void start_telemetry();
  void publish_telemetry();
  void on_telemetry(const p2p::PubsubMessage& message);
  void measure_latency();
  std::optional<KnownTelemetry> find_telemetry(const std::string& peer, const Hash32& hash) const;
  std::optional<KnownTelemetry> latest_telemetry(const std::string& peer) const;
  sched::FreeCapacity reserved_by_local_replicas() const;

  // ---- scheduler_role.cc ----
  void on_schedule_request(const p2p::PubsubMessage& message);
  void evaluate(const ScheduleRequest& request, int attempt);
  void on_decision_announcement(const p2p::PubsubMessage& message);
  // The committee's and executors' check that `record` is the decision a quorum of the
  // round's schedulers announced. Returns the decision hash hex.
  Result<std::string> check_agreed_decision(const ScheduleRequest& request, const sched::DecisionRecord& record) const;
  // Calls `then` with the agreed hash and the round once check_agreed_decision passes for a
  // request from `coordinator`, or with the error (and no round) when it fails for good.
  using AgreedCallback = std::function<void(const Result<std::string>& agreed, const ScheduleRequest* round)>;
  void when_decision_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                            sched::DecisionRecord record, AgreedCallback then, int attempt = 0);

  // ---- committee_role.cc ----
  void handle_decrypt_request(const std::string& peer, Bytes message, std::function<void(Bytes)> reply);
  Result<DecryptResponse> partial_decrypt_decision(const DecryptRequest& request, std::uint32_t replicas);

  // ---- coordinator.cc ----
  Result<JobState*> submit_job(const std::string& spec_yaml);
  // A new round for every replica of `job` that needs a node (slots_needing_placement), on
  // live nodes outside `exclude`; supersedes the round in flight. Nothing for a stopped job.
  void start_round(JobState& job, std::set<std::string> exclude);
  void handle_decision_submission(const std::string& peer, Bytes message, std::function<void(Bytes)> reply);
  void consider_round(const Hash32& job_id);
  void request_shares(JobState& job);
  void on_shares(const Hash32& job_id, std::uint32_t round, const std::string& member, Result<Bytes> reply);
  void retry_unplaced(JobState& job);
  // `plaintexts`: the combined value of each decision value (index, found per replica choice).
  void place(JobState& job, const std::vector<std::vector<fhe::threshold::DecryptionShare>>& shares,
             const std::vector<std::uint64_t>& plaintexts);
  void handle_report(const std::string& peer, Bytes message, std::function<void(Bytes)> reply);
  void maybe_anchor(JobState& job);
  void resume_anchors();
  void reschedule_lost(const std::string& peer, const std::string& why);
  Status stop_job(JobState& job);
  void save(const JobState& job);
  JobState* find_job(const std::string& id_or_name);
  // The job, when it is not stopped and `round` is still its current round; else nullptr.
  // Every timer and late message of a round checks this first.
  JobState* job_in_round(const Hash32& id, std::uint32_t round);

  // ---- executor.cc ----
  void handle_assignment(const std::string& peer, Bytes message, std::function<void(Bytes)> reply);
  void start_executor();
  void reconcile_now();
  void report_replicas(const std::vector<runtime::ContainerInfo>& containers);
  void drain_local_replicas(std::function<void()> done);
  runtime::ContainerSpec container_spec(const LocalReplica& replica) const;

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
  std::uint64_t telemetry_sequence_ = 0;
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

  ClusterKeys keys_;
  std::unique_ptr<SystemProbe> probe_;
  std::unique_ptr<runtime::Driver> driver_;  // used on blocking_ only
  std::string driver_reason_;
  std::unique_ptr<runtime::Reconciler> reconciler_;  // used on blocking_ only

  // Telemetry.
  std::map<std::string, std::deque<KnownTelemetry>> telemetry_;
  std::unique_ptr<sched::TelemetryValidator> telemetry_validator_;
  std::map<std::string, std::chrono::nanoseconds> latency_;
  struct OwnRecord {
    Hash32 hash{};
    std::uint64_t timestamp_ms = 0;
    sched::QuantizedTelemetry values;
  };
  std::deque<OwnRecord> own_records_;  // this node's plaintext, for its own operator's API only
  sched::Ed25519SecretKey telemetry_signing_key_{};  // the libp2p identity's Ed25519 secret

  // Rounds seen on gossip (all nodes), and who announced what.
  std::map<std::pair<Hash32, std::uint32_t>, ScheduleRequest> rounds_seen_;
  std::map<std::pair<Hash32, std::uint32_t>, std::map<std::string, DecisionAnnouncement>> announcements_;
  std::set<std::pair<Hash32, std::uint32_t>> evaluated_;

  // Coordinator.
  std::map<Hash32, JobState> jobs_;
  std::map<Hash32, RoundProgress> progress_;

  // Executor.
  std::map<std::pair<Hash32, std::uint32_t>, LocalReplica> local_;
  StopFence stop_fence_;  // assignments of stopped replicas that must not start
  std::uint64_t reconcile_passes_ = 0;
  bool reconcile_running_ = false;

  std::unique_ptr<boost::asio::steady_timer> telemetry_timer_, chain_timer_, reconcile_timer_;
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
