// The coordinator role (coordinator_role.h) with the real scheduler and committee roles of four
// nodes, each behind a NodeContext of the test's own, on the INSECURE test parameters: gossip
// and streams are carried by hand between the nodes' contexts, the executor is a stand-in that
// accepts (or refuses) assignments, and anchoring is recorded. No chain, no dockerd, no network.
//
// What it shows: a job goes from submission through encrypted evaluation, agreement, the
// committee's shares and replication to its holders, to an assignment on a node that fits, to
// running, to its anchor; a scheduler that lies is named and outvoted; a refused assignment is
// placed elsewhere after the back-off; when the coordinator and the node running the replica die
// together, the first live successor takes the job over and places it again on a live node; and
// the old coordinator, back, steps down.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "committee_role.h"
#include "coordinator_role.h"
#include "fake_node_context.h"
#include "scheduler_role.h"
#include "test_cluster_keys.h"
#include "veil/fhe/threshold.h"
#include "veil/sched/decision.h"
#include "veil/sched/job_spec.h"
#include "veil/sched/resources.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;
namespace threshold = fhe::threshold;
using namespace std::chrono_literals;

const std::string kJobs = "veil/test/jobs";
const std::string kDecisions = "veil/test/decisions";
// Sorted as live_members() sorts. A is small (fits nothing) and not a committee member; B, C and
// D are big and hold the 2-of-3 committee's shares.
const std::string kA = "12D3KooWNodeA", kB = "12D3KooWNodeB", kC = "12D3KooWNodeC", kD = "12D3KooWNodeD";

class CoordinatorRoleTest : public ::testing::Test {
 protected:
  struct Node {
    std::string id;
    std::unique_ptr<FakeContext> ctx;
    std::unique_ptr<SchedulerRole> scheduler;
    std::unique_ptr<CommitteeRole> committee;
    std::unique_ptr<CoordinatorRole> coordinator;
    std::shared_ptr<const sched::EncryptedTelemetry> telemetry;
    // The executor's stand-in: the replicas it accepted, keyed as the executor keys them.
    std::map<std::pair<Hash32, std::uint32_t>, LocalReplica> replicas;
    std::vector<Assignment> stops;
    std::vector<chain::VeilRegistry::Commitment> anchored;
    bool down = false;
  };

  static void SetUpTestSuite() {
    keys_ = TestClusterKeys::generate().release();
    ASSERT_NE(keys_->ceremony, nullptr);
    client_ = &keys_->client;
    public_ = &keys_->public_key;
    server_ = &keys_->server_key;
    members_ = &keys_->members;
    ceremony_ = keys_->ceremony.get();
  }
  static void TearDownTestSuite() {
    delete keys_;
  }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veil-coordinator-role-" + std::to_string(::getpid()));
    spec_yaml_ = "name: web\nimage: x@sha256:" + std::string(64, 'a') + "\nresources: {cpu: 2, memory: 64}\nreplicas: 1\n";
    job_ = sched::job_id(*sched::parse_job_spec(spec_yaml_, "test"));
  }
  void TearDown() override {
    for (auto& n : nodes_) n->ctx->blocking.reset();  // finish queued FHE work while the roles exist
    for (auto& n : nodes_) {
      n->coordinator.reset();
      n->committee.reset();
      n->scheduler.reset();
    }
    nodes_.clear();
    fs::remove_all(dir_);
  }

  // Four nodes that see each other live and registered. `tamperer`, when named, is a scheduler
  // that announces a decision of its own making.
  void start_cluster(const std::string& tamperer = "") {
    const std::vector<std::string> all = {kA, kB, kC, kD};
    for (const auto& id : all) {
      auto node = std::make_unique<Node>();
      node->id = id;
      fs::create_directories(dir_ / id);
      node->ctx = std::make_unique<FakeContext>(dir_ / id);
      FakeContext& ctx = *node->ctx;
      ctx.self_id = id;
      ctx.live = all;
      ctx.registered = {all.begin(), all.end()};
      ctx.cluster_keys.public_key = *public_;
      ctx.cluster_keys.server_key = *server_;
      ctx.cluster_keys.committee = ceremony_->committee;
      ctx.cluster_keys.member_peers = {kB, kC, kD};
      const int member = id == kB ? 1 : id == kC ? 2 : id == kD ? 3 : 0;
      if (member > 0) {
        ctx.cluster_keys.share = ceremony_->shares[member - 1];
        ctx.cluster_keys.member_key = (*members_)[member - 1];
      }
      const std::uint32_t cpu = id == kA ? 500 : 8000;
      node->telemetry = std::make_shared<sched::EncryptedTelemetry>(
          sched::encrypt_telemetry(sched::quantize_telemetry({cpu, 16384, 100'000, 0, 2000}), *public_));
      nodes_.push_back(std::move(node));
    }
    for (auto& n : nodes_) make_roles(*n, n->id == tamperer);
  }

  void make_roles(Node& n, bool tamper) {
    Node* self = &n;
    SchedulerRole::Options scheduler_options;
    scheduler_options.decisions_topic = kDecisions;
    scheduler_options.tamper_decisions = tamper;
    auto find = [this](const std::string& peer, const Hash32& hash) -> std::shared_ptr<const sched::EncryptedTelemetry> {
      Node* owner = find_node(peer);
      if (owner == nullptr || sched::telemetry_hash(*owner->telemetry) != hash) return nullptr;
      return owner->telemetry;
    };
    SchedulerRole::CoordinatorHooks hooks;
    hooks.on_announcement = [self](const Hash32& job) { self->coordinator->on_announcement(job); };
    hooks.on_own_decision = [self](const ScheduleRequest& round, const Hash32& hash, sched::DecisionRecord record) {
      self->coordinator->on_own_decision(round, hash, std::move(record));
    };
    n.scheduler = std::make_unique<SchedulerRole>(*n.ctx, scheduler_options, find, hooks);
    n.ctx->agree = [self](const std::string& coordinator, const Hash32& job, std::uint32_t round,
                          sched::DecisionRecord record, NodeContext::AgreedCallback then) {
      self->scheduler->when_decision_agreed(coordinator, job, round, std::move(record), std::move(then));
    };
    if (n.ctx->cluster_keys.share) n.committee = std::make_unique<CommitteeRole>(*n.ctx);

    CoordinatorRole::Options options;
    options.jobs_topic = kJobs;
    options.round_timeout = 60s;
    options.first_retry = 100ms;
    options.max_retry = 400ms;
    options.replication_interval = 200ms;
    options.committee_hedge = 300ms;
    CoordinatorRole::LocalRoles roles;
    roles.evaluate_round = [self](const Bytes& round) { self->scheduler->on_round(self->id, round); };
    roles.announced = [self](const Hash32& job, std::uint32_t round) { return self->scheduler->announced(job, round); };
    roles.round_seen = [self](const Hash32& job, std::uint32_t round) {
      return self->scheduler->round_seen(job, round);
    };
    roles.announced_elsewhere = [self](const Hash32& job, std::uint32_t round) {
      return self->scheduler->announced_elsewhere(job, round);
    };
    roles.decrypt = [self](Bytes request, NodeContext::Reply reply) {
      if (!self->committee) return reply(encode(DecryptResponse{"not a committee member", {}}));
      self->committee->handle(self->id, std::move(request), std::move(reply));
    };
    roles.assign = [this, self](Bytes assignment, NodeContext::Reply reply) {
      reply(execute(*self, self->id, assignment));
    };
    roles.replicas_of = [self](const Hash32& job) {
      std::vector<LocalReplica> out;
      for (const auto& [key, replica] : self->replicas) {
        if (key.first == job) out.push_back(replica);
      }
      return out;
    };
    roles.adopt_coordinator = [self](const Hash32& job, const std::string& coordinator) {
      for (auto& [key, replica] : self->replicas) {
        if (key.first == job) replica.coordinator = coordinator;
      }
    };
    roles.latest_telemetry = [this, self](const std::string& peer) -> std::optional<KnownTelemetry> {
      Node* owner = find_node(peer);
      if (owner == nullptr) return std::nullopt;
      return KnownTelemetry{sched::telemetry_hash(*owner->telemetry), static_cast<std::uint64_t>(self->ctx->clock_ms),
                            owner->telemetry};
    };
    roles.anchor = [self](const chain::VeilRegistry::Commitment& commitment) {
      self->anchored.push_back(commitment);
      AnchorInfo anchored;
      anchored.commitment = to_hex_prefixed(chain::VeilRegistry::commitment_hash(commitment));
      anchored.phase = AnchorPhase::kAnchored;
      anchored.tx = "0x" + std::string(64, 'e');
      anchored.block = 7;
      return anchored;
    };
    n.coordinator = std::make_unique<CoordinatorRole>(*n.ctx, options, std::move(roles));
    ASSERT_TRUE(n.coordinator->restore().ok());
    n.coordinator->start();
  }

  // The executor's stand-in on `n`: keeps what it is assigned (the first `refusals` assignments
  // anywhere are refused), removes what it is told to stop.
  Bytes execute(Node& n, const std::string& from, const Bytes& message) {
    auto assignment = decode_assignment(message);
    if (!assignment.ok()) return encode(AssignmentAck{assignment.status().message()});
    const auto key = std::make_pair(assignment->job_id, assignment->replica);
    if (assignment->stop) {
      n.stops.push_back(*assignment);
      n.replicas.erase(key);
      return encode(AssignmentAck{});
    }
    ++assignments_seen_;
    if (refusals_ > 0) {
      --refusals_;
      refused_by_.push_back(n.id);
      return encode(AssignmentAck{"image not allowed for this operator"});
    }
    LocalReplica replica;
    replica.job = assignment->job_id;
    replica.replica = assignment->replica;
    replica.round = assignment->round;
    replica.coordinator = from;
    n.replicas[key] = replica;
    return encode(AssignmentAck{});
  }

  Node* find_node(const std::string& id) {
    for (auto& n : nodes_) {
      if (n->id == id) return n.get();
    }
    return nullptr;
  }

  // One step of the whole cluster: each live node's io thread runs what is ready (a dead one is
  // frozen, as a stopped process), then the gossip and the stream messages each live node sent
  // are carried to their live recipients (a message to a dead node fails as unreachable).
  void pump() {
    for (auto& n : nodes_) {
      if (n->down) continue;
      n->ctx->io_context.poll();
      n->ctx->io_context.restart();
    }
    for (auto& n : nodes_) {
      auto published = std::exchange(n->ctx->published, {});
      auto sent = std::exchange(n->ctx->sent, {});
      if (n->down) continue;
      for (const auto& [topic, data] : published) {
        for (auto& m : nodes_) {
          if (m == n || m->down) continue;
          if (topic == kJobs) m->scheduler->on_round(n->id, data);
          if (topic == kDecisions) m->scheduler->on_announcement(n->id, data);
        }
      }
      for (auto& message : sent) deliver(*n, std::move(message));
    }
  }

  void deliver(Node& from, FakeContext::Sent message) {
    FakeContext* back = from.ctx.get();
    auto on_reply = std::make_shared<NodeContext::OnReply>(std::move(message.on_reply));
    Node* to = find_node(message.peer);
    if (to == nullptr || to->down || cut_.count({from.id, message.peer}) > 0) {
      back->post([on_reply, peer = message.peer] { (*on_reply)(unavailable("cannot reach " + peer)); });
      return;
    }
    auto reply = [back, on_reply](Bytes bytes) { back->post([on_reply, bytes] { (*on_reply)(bytes); }); };
    const std::string& p = message.protocol;
    if (p == kDecisionProtocol) to->coordinator->handle_decision_submission(from.id, std::move(message.message), reply);
    else if (p == kReportProtocol) to->coordinator->handle_report(from.id, std::move(message.message), reply);
    else if (p == kJobStateProtocol) to->coordinator->handle_job_state(from.id, std::move(message.message), reply);
    else if (p == kAssignProtocol) reply(execute(*to, from.id, message.message));
    else if (p == kDecryptProtocol && to->committee) {
      ++decrypt_requests_[to->id];
      if (silent_.count(to->id) > 0) return;  // a member that never answers (a stalled process)
      to->committee->handle(from.id, std::move(message.message), reply);
    }
    else reply(encode(DecryptResponse{"not a committee member", {}}));
  }

  // Pumps for `span` of real time (timers such as the replication check run meanwhile).
  void pump_for(std::chrono::milliseconds span) {
    const auto until = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < until) {
      pump();
      std::this_thread::sleep_for(2ms);
    }
  }

  // A request for the job's round `round` from `coordinator` over `over`, as another coordinator
  // of the job would send it: one in the same term (it took the job over from a stale copy),
  // which numbers its rounds as this one does.
  ScheduleRequest round_of_another_coordinator(std::uint32_t round, const std::string& coordinator,
                                               const std::vector<std::string>& candidates,
                                               const std::vector<std::string>& over) {
    ScheduleRequest r;
    r.job_id = job_;
    r.round = round;
    r.coordinator = coordinator;
    r.spec_yaml = spec_yaml_;
    r.candidates = candidates;
    r.schedulers = select_schedulers(job_, round, candidates, candidates.size());
    for (const auto& peer : over)
      r.nodes.push_back({peer, sched::telemetry_hash(*find_node(peer)->telemetry)});
    r.replicas = 1;
    r.created_ms = static_cast<std::uint64_t>(find_node(coordinator)->ctx->clock_ms);
    return r;
  }

  // Pumps until `done` holds; false after 60 s (a bound for a failing test).
  template <typename Done>
  bool run_until(Done done) {
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      pump();
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }

  // The node whose executor runs a replica of the job, or nullptr.
  Node* replica_node() {
    for (auto& n : nodes_) {
      if (!n->down && !n->replicas.empty()) return n.get();
    }
    return nullptr;
  }

  // The node that coordinates the job now, or nullptr.
  Node* coordinator_node() {
    for (auto& n : nodes_) {
      if (!n->down && n->coordinator->coordinates(job_)) return n.get();
    }
    return nullptr;
  }

  // `executor` reports its replica of the job to the job's coordinator.
  void report(Node& executor, const std::string& state) {
    Node* coordinator = coordinator_node();
    ASSERT_NE(coordinator, nullptr);
    const auto& [key, replica] = *executor.replicas.begin();
    ReplicaReport r;
    r.job_id = key.first;
    r.replica = key.second;
    r.state = state;
    r.endpoint = "127.0.0.1:8080";
    executor.ctx->request(coordinator->id, kReportProtocol, encode(r), [](Result<Bytes>) {});
  }

  // SWIM's verdict on `dead`, as the survivors see it.
  void kill(const std::vector<std::string>& dead) {
    for (const auto& id : dead) find_node(id)->down = true;
    for (auto& n : nodes_) {
      if (n->down) continue;
      for (const auto& id : dead) {
        n->ctx->dead.insert(id);
        n->ctx->live.erase(std::remove(n->ctx->live.begin(), n->ctx->live.end(), id), n->ctx->live.end());
      }
    }
    for (auto& n : nodes_) {
      if (n->down) continue;
      for (const auto& id : dead) n->coordinator->on_member_gone(id, "dead");
    }
  }

  // Submits the job on A and carries messages until a node runs its replica, which reports it running.
  Node& place_on_a() {
    auto submitted = find_node(kA)->coordinator->submit_job(spec_yaml_);
    EXPECT_TRUE(submitted.ok()) << submitted.status().to_string();
    EXPECT_TRUE(run_until([&] { return replica_node() != nullptr; })) << "no replica placed";
    Node* runs = replica_node();
    report(*runs, "running");
    EXPECT_TRUE(run_until([&] { return coordinator_node()->coordinator->jobs().at(job_).phase == JobPhase::kRunning; }));
    return *runs;
  }

  const JobState& record() { return coordinator_node()->coordinator->jobs().at(job_); }

  static inline TestClusterKeys* keys_ = nullptr;
  static inline fhe::ClientKey* client_ = nullptr;
  static inline fhe::CompactPublicKey* public_ = nullptr;
  static inline fhe::ServerKey* server_ = nullptr;
  static inline std::vector<threshold::MemberSecretKey>* members_ = nullptr;
  static inline threshold::Ceremony* ceremony_ = nullptr;
  fs::path dir_;
  std::string spec_yaml_;
  Hash32 job_{};
  std::vector<std::unique_ptr<Node>> nodes_;
  int refusals_ = 0;
  int assignments_seen_ = 0;
  std::vector<std::string> refused_by_;
  std::map<std::string, int> decrypt_requests_;  // committee member -> share requests it got
  std::set<std::string> silent_;                  // members that take requests and never answer
  std::set<std::pair<std::string, std::string>> cut_;  // (from, to): streams that fail as unreachable

  // `a` and `b` cannot reach each other (until heal()).
  void cut_between(const std::string& a, const std::string& b) { cut_.insert({{a, b}, {b, a}}); }
  // `self`'s SWIM declares `other` dead.
  void sees_dead(const std::string& self, const std::string& other) {
    FakeContext& ctx = *find_node(self)->ctx;
    ctx.dead.insert(other);
    ctx.live.erase(std::remove(ctx.live.begin(), ctx.live.end(), other), ctx.live.end());
  }
  void heal() {
    cut_.clear();
    for (auto& n : nodes_) {
      n->ctx->dead.clear();
      n->ctx->live = {kA, kB, kC, kD};
    }
  }
  std::vector<Node*> coordinators() {
    std::vector<Node*> out;
    for (auto& n : nodes_) {
      if (!n->down && n->coordinator->coordinates(job_)) out.push_back(n.get());
    }
    return out;
  }

  // Whether one of the job's events (on A) contains `text`.
  bool said(const std::string& text) {
    const auto events = find_node(kA)->ctx->store().events(hash_hex(job_), 100);
    if (!events.ok()) return false;
    for (const auto& e : *events) {
      if (e.message.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(CoordinatorRoleTest, AJobGoesFromSubmissionToAnAnchoredReplicaOnANodeThatFits) {
  start_cluster();
  Node& runs = place_on_a();
  EXPECT_NE(runs.id, kA) << "A has 0.5 CPU: the job needs 2";
  EXPECT_EQ(assignments_seen_, 1) << "one replica, one assignment";

  const JobState& job = record();
  ASSERT_EQ(job.rounds.size(), 1u);
  const RoundRecord& round = job.rounds[0];
  EXPECT_EQ(round.outcome, "placed");
  EXPECT_EQ(round.schedulers.size(), 3u);
  EXPECT_FALSE(round.agreed.empty());
  for (const auto& scheduler : round.schedulers) EXPECT_EQ(round.announced.at(scheduler), round.agreed) << scheduler;
  EXPECT_TRUE(round.liars.empty());
  EXPECT_EQ(job.replicas[0].node, runs.id);

  // Every holder keeps a copy of the record, A's own included.
  ASSERT_EQ(job.holders.size(), 3u);
  for (const auto& holder : job.holders) {
    if (holder == kA) continue;
    EXPECT_TRUE(run_until([&] {
      const auto& held = find_node(holder)->coordinator->held();
      return held.count(job_) > 0 && held.at(job_).replicas[0].node == runs.id;
    })) << holder << " holds no current copy";
  }

  // Anchored once every placed replica runs: the commitment names the agreed decision and the
  // schedulers that announced it.
  Node& a = *find_node(kA);
  ASSERT_TRUE(run_until([&] { return !record().anchors.empty() && record().anchors[0].phase == AnchorPhase::kAnchored; }));
  ASSERT_EQ(a.anchored.size(), 1u);
  EXPECT_EQ(hash_hex(a.anchored[0].decision_hash), round.agreed);
  EXPECT_EQ(a.anchored[0].schedulers.size(), 3u);
  EXPECT_EQ(record().anchors[0].block, 7u);
}

TEST_F(CoordinatorRoleTest, OnlyAThresholdOfTheCommitteeIsAskedForShares) {
  start_cluster();
  place_on_a();
  // A is no member: it asks the first two of round 1's order, and they suffice.
  const auto order = committee_asking_order(job_, 1, {kB, kC, kD}, kA, [](const std::string&) { return false; });
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(decrypt_requests_[order[0]], 1);
  EXPECT_EQ(decrypt_requests_[order[1]], 1);
  EXPECT_EQ(decrypt_requests_[order[2]], 0) << "the third member squashed the decision for nothing";
  EXPECT_TRUE(said("asking the committee (2 of 3)"));
}

TEST_F(CoordinatorRoleTest, ASilentMemberIsReplacedOnceTheHedgeDelayHasPassed) {
  const auto order = committee_asking_order(job_, 1, {kB, kC, kD}, kA, [](const std::string&) { return false; });
  silent_ = {order[0]};
  start_cluster();
  Node& runs = place_on_a();
  (void)runs;
  EXPECT_EQ(record().rounds[0].outcome, "placed");
  EXPECT_EQ(decrypt_requests_[order[2]], 1) << "the third member was never asked";
  EXPECT_TRUE(said("no shares yet from " + order[0] + " after 300 ms; asking the rest of the committee"));
}

TEST_F(CoordinatorRoleTest, AnUnreachableMemberIsReplacedAtOnceAndADeadOneIsAskedLast) {
  const auto order = committee_asking_order(job_, 1, {kB, kC, kD}, kA, [](const std::string&) { return false; });
  start_cluster();
  // The first member's process is gone but SWIM has not said so yet: its request fails at once
  // and the next member is asked without waiting for the hedge.
  find_node(order[0])->down = true;
  place_on_a();
  EXPECT_EQ(decrypt_requests_[order[1]], 1);
  EXPECT_EQ(decrypt_requests_[order[2]], 1);
  EXPECT_TRUE(said("committee member " + order[0] + " gave no shares: unreachable: cannot reach " + order[0] + "; asking " +
                   order[2] + " instead"));
  EXPECT_FALSE(said("asking the rest of the committee"));
  // Once SWIM has declared it dead, it goes to the end of the order.
  const auto known = committee_asking_order(job_, 1, {kB, kC, kD}, kA, [&](const std::string& m) { return m == order[0]; });
  EXPECT_EQ(known, (std::vector<std::string>{order[1], order[2], order[0]}));
  // A member coordinator asks itself first.
  EXPECT_EQ(committee_asking_order(job_, 1, {kB, kC, kD}, order[2], [](const std::string&) { return false; })[0], order[2]);
}

TEST_F(CoordinatorRoleTest, ASchedulerThatAnnouncesAnotherDecisionIsNamedAndOutvoted) {
  // Round 1's schedulers: three of the four live nodes, chosen by rendezvous over the job.
  const auto schedulers = select_schedulers(job_, 1, {kA, kB, kC, kD}, 3);
  const std::string liar = schedulers[1];
  start_cluster(liar);
  Node& runs = place_on_a();
  (void)runs;
  const RoundRecord& round = record().rounds[0];
  EXPECT_EQ(round.outcome, "placed") << "two of three schedulers still agree";
  EXPECT_EQ(round.liars, std::vector<std::string>{liar});
  EXPECT_NE(round.announced.at(liar), round.agreed);
  ASSERT_EQ(record().warnings.size(), 1u);
  EXPECT_NE(record().warnings[0].find("scheduler " + liar + " published decision"), std::string::npos) << record().warnings[0];
  EXPECT_EQ(find_node(kA)->ctx->registry.counter("veil_sched_disagreements_total", "", {"scheduler"}).with({liar}).value(), 1.0);
}

TEST_F(CoordinatorRoleTest, ARefusedAssignmentIsPlacedOnAnotherNodeAfterTheBackOff) {
  start_cluster();
  refusals_ = 1;
  Node& runs = place_on_a();
  ASSERT_EQ(refused_by_.size(), 1u);
  EXPECT_NE(runs.id, refused_by_[0]) << "never back onto the node that refused";
  EXPECT_EQ(assignments_seen_, 2);
  const JobState& job = record();
  ASSERT_EQ(job.rounds.size(), 2u);
  for (const auto& node : job.rounds[1].nodes) EXPECT_NE(node.peer, refused_by_[0]) << "round 2 offers the refusing node";
  const auto events = find_node(kA)->ctx->store().events(hash_hex(job_), 100);
  ASSERT_TRUE(events.ok());
  bool said = false;
  for (const auto& e : *events) {
    said = said || e.message.find("refused by " + refused_by_[0] + ": image not allowed for this operator; a new round in 100 ms") !=
                       std::string::npos;
  }
  EXPECT_TRUE(said) << "the refusal and the back-off are in the job's events";
}

TEST_F(CoordinatorRoleTest, WhenTheCoordinatorAndTheReplicasNodeDieASuccessorPlacesTheJobAgainAndTheOldCoordinatorStepsDown) {
  start_cluster();
  Node& first = place_on_a();
  const std::string lost_node = first.id;
  const JobState before = record();
  ASSERT_EQ(before.term, 0u);
  ASSERT_TRUE(run_until([&] {
    for (const auto& h : before.holders) {
      if (h != kA && find_node(h)->coordinator->held().count(job_) == 0) return false;
    }
    return true;
  }));

  kill({kA, lost_node});
  // The first live holder after A in the record's order takes over, and places the lost replica
  // on a live node (the committee keeps 2 of its 3 members).
  ASSERT_TRUE(run_until([&] {
    Node* c = coordinator_node();
    return c != nullptr && replica_node() != nullptr;
  })) << "nobody took the job over and placed it again";
  Node& successor = *coordinator_node();
  Node& runs = *replica_node();
  EXPECT_NE(successor.id, kA);
  EXPECT_NE(successor.id, lost_node);
  EXPECT_TRUE(std::find(before.holders.begin(), before.holders.end(), successor.id) != before.holders.end())
      << "only a holder can take over";
  EXPECT_NE(runs.id, lost_node);
  EXPECT_EQ(runs.replicas.begin()->second.coordinator, successor.id);
  report(runs, "running");
  ASSERT_TRUE(run_until([&] { return record().phase == JobPhase::kRunning; }));
  EXPECT_EQ(record().term, kTermsPerGeneration + 1);  // the next generation, first successor
  ASSERT_EQ(record().handovers.size(), 1u);
  EXPECT_EQ(record().handovers[0].from, kA);
  EXPECT_EQ(record().replicas[0].node, runs.id);
  // The other survivor's copy says the same (what `job status` on it answers).
  for (auto& n : nodes_) {
    if (n->down || n.get() == &successor) continue;
    EXPECT_TRUE(run_until([&] {
      const auto& held = n->coordinator->held();
      return held.count(job_) > 0 && held.at(job_).term == kTermsPerGeneration + 1 && held.at(job_).replicas[0].node == runs.id;
    })) << n->id << "'s copy does not show the take-over";
  }

  // A comes back with its term-0 record: its next push is answered "superseded", and it steps
  // down to a holder of the newer record.
  Node& a = *find_node(kA);
  a.down = false;
  a.ctx->dead.clear();
  a.ctx->live = {kA, kB, kC, kD};
  a.ctx->live.erase(std::remove(a.ctx->live.begin(), a.ctx->live.end(), lost_node), a.ctx->live.end());
  a.ctx->dead.insert(lost_node);
  for (auto& n : nodes_) {
    if (n->down || n.get() == &a) continue;
    n->ctx->dead.erase(kA);
    n->ctx->live.push_back(kA);
    std::sort(n->ctx->live.begin(), n->ctx->live.end());
  }
  ASSERT_TRUE(a.coordinator->coordinates(job_));
  ASSERT_TRUE(run_until([&] { return !a.coordinator->coordinates(job_); })) << "A never stepped down";
  ASSERT_EQ(a.coordinator->held().count(job_), 1u);
  EXPECT_EQ(a.coordinator->held().at(job_).coordinator, successor.id);
  EXPECT_EQ(coordinator_node(), &successor) << "one coordinator";
}

TEST_F(CoordinatorRoleTest, ASuccessorRefusedByHoldersThatSeeTheOldCoordinatorAliveMakesItStepDown) {
  // Coordinator A and its first successor S lose each other: A, seeing S dead, replaces it among
  // its holders; S, cut off from the others for a moment, takes the job over from its own copy.
  // Healed, A pushes only to holders that keep A's record (A is alive there) and refuse S's
  // push: nobody tells A of S's term, and both coordinate the job (each would keep its own
  // replicas) until S pushes its record to A itself, as the holders' refusal names A.
  start_cluster();
  place_on_a();
  const JobState before = record();
  const std::string s = before.holders.at(1);
  ASSERT_TRUE(run_until([&] {
    for (const auto& h : before.holders) {
      if (h != kA && find_node(h)->coordinator->held().count(job_) == 0) return false;
    }
    return true;
  }));
  cut_between(kA, s);
  // A's verdict comes first: its new holder stores A's record before S's push arrives.
  sees_dead(kA, s);
  ASSERT_TRUE(run_until([&] {
    const auto& holders = find_node(kA)->coordinator->jobs().at(job_).holders;
    if (std::find(holders.begin(), holders.end(), s) != holders.end()) return false;
    for (const auto& h : holders) {
      if (h != kA && find_node(h)->coordinator->held().count(job_) == 0) return false;
    }
    return true;
  })) << "A kept S among its holders";
  // S takes over from its own copy (the other holders' are out of its reach for a moment),
  // in which it is still A's first successor.
  for (const auto& n : nodes_) {
    if (n->id != s) cut_between(s, n->id);
  }
  sees_dead(s, kA);
  find_node(s)->coordinator->on_member_gone(kA, "dead");
  // No other holder answers S, whose copy (and verdict) may be stale: it waits for an answer
  // over several replication checks...
  pump_for(600ms);
  EXPECT_FALSE(find_node(s)->coordinator->coordinates(job_)) << "S took over though no other holder answered";
  // ...and goes on from its own copy once none came for two replication intervals of its clock.
  find_node(s)->ctx->clock_ms += 400;
  ASSERT_TRUE(run_until([&] { return find_node(s)->coordinator->coordinates(job_); })) << "S did not take over";
  heal();
  ASSERT_TRUE(run_until([&] { return coordinators().size() == 1; })) << "two coordinators after the heal";
  EXPECT_EQ(coordinators().front()->id, s);
  ASSERT_EQ(find_node(kA)->coordinator->held().count(job_), 1u);
  EXPECT_EQ(find_node(kA)->coordinator->held().at(job_).coordinator, s);
}

TEST_F(CoordinatorRoleTest, AReportToAFormerCoordinatorIsSentOnToTheCoordinatorItsCopyNames) {
  // A replica's node that missed the handover keeps reporting to the job's former coordinator,
  // which answers from its copy: the copy stops at the last push it got, and a replica it
  // still places there may have been replaced since. The answer names the coordinator (the
  // node reports there from then on), and the former coordinator refreshes its copy.
  start_cluster();
  Node& runs = place_on_a();
  Node& a = *find_node(kA);
  const std::string s = record().holders.at(1);
  cut_between(kA, s);
  sees_dead(s, kA);
  find_node(s)->coordinator->on_member_gone(kA, "dead");
  ASSERT_TRUE(run_until([&] { return find_node(s)->coordinator->coordinates(job_); }));
  heal();
  ASSERT_TRUE(run_until([&] { return !a.coordinator->coordinates(job_) && a.coordinator->held().count(job_) > 0; }));
  Node& coordinator = *find_node(s);
  // Once every holder keeps S's record, nothing pushes it to A (not a holder of S's) any more.
  ASSERT_TRUE(run_until([&] {
    for (const auto& h : coordinator.coordinator->jobs().at(job_).holders) {
      const auto& held = find_node(h)->coordinator->held();
      if (h != s && (held.count(job_) == 0 || held.at(job_).coordinator != s)) return false;
    }
    return true;
  }));
  ASSERT_EQ(std::count(record().holders.begin(), record().holders.end(), kA), 0);

  auto report_to = [&](const std::string& to, const std::string& state) {
    auto answer = std::make_shared<std::optional<AssignmentAck>>();
    ReplicaReport r;
    r.job_id = job_;
    r.replica = 0;
    r.state = state;
    r.endpoint = "127.0.0.1:8080";
    runs.ctx->request(to, kReportProtocol, encode(r), [answer](Result<Bytes> reply) {
      if (reply.ok()) *answer = *decode_assignment_ack(*reply);
    });
    EXPECT_TRUE(run_until([&] { return answer->has_value(); }));
    return answer->value_or(AssignmentAck{"(no answer)"});
  };
  // The coordinator's record moves on (a report it takes changes its version); A's copy does not.
  report_to(s, "exited");
  ASSERT_TRUE(run_until([&] { return coordinator.coordinator->jobs().at(job_).replicas[0].phase == ReplicaPhase::kExited; }));
  ASSERT_LT(a.coordinator->held().at(job_).version, coordinator.coordinator->jobs().at(job_).version);

  const AssignmentAck sent_on = report_to(kA, "running");
  EXPECT_EQ(sent_on.error, "");
  EXPECT_EQ(sent_on.coordinator, s);
  EXPECT_TRUE(run_until([&] {
    return a.coordinator->held().at(job_).version == coordinator.coordinator->jobs().at(job_).version;
  })) << "A did not refresh its copy from the coordinator it names";
  EXPECT_EQ(a.coordinator->held().at(job_).replicas[0].phase, ReplicaPhase::kExited);
  // A replica the coordinator itself judges is answered without a redirect.
  EXPECT_EQ(report_to(s, "running").coordinator, "");
}

TEST_F(CoordinatorRoleTest, ARoundNumberAnotherCoordinatorOfTheJobUsedIsSkipped) {
  start_cluster();
  Node& runs = place_on_a();
  const std::uint32_t next = record().round + 1;
  std::vector<std::string> others;  // the live nodes besides A once `runs` is dead
  for (const auto& id : {kB, kC, kD}) {
    if (id != runs.id) others.push_back(id);
  }
  // A saw another coordinator of the job run round `next` (A is none of its schedulers).
  const ScheduleRequest other = round_of_another_coordinator(next, others[0], others, {others[0]});
  find_node(kA)->scheduler->on_round(others[0], encode(other));
  kill({runs.id});
  ASSERT_TRUE(run_until([&] { return replica_node() != nullptr; }))
      << "the lost replica was not placed again";
  EXPECT_EQ(record().rounds.back().round, next + 1);
  EXPECT_EQ(record().rounds.back().outcome, "placed");
  EXPECT_TRUE(
      said("round " + std::to_string(next) + " was used by another coordinator of this job; skipping it"));
}

TEST_F(CoordinatorRoleTest,
       SchedulersThatEvaluatedAnotherCoordinatorsRoundOfTheSameNumberAreNoVotesAndANewRoundStarts) {
  // Two coordinators of the job in one term start rounds of the same number at about the same
  // time: A's two other schedulers evaluated the other one's first, and evaluate a number once.
  // Their announcements reach A after A's own round: without counting them as announced
  // elsewhere, A would wait out the round timeout (60 s here) for votes that never come.
  start_cluster();
  Node& runs = place_on_a();
  const std::uint32_t next = record().round + 1;
  std::vector<std::string> others;
  for (const auto& id : {kB, kC, kD}) {
    if (id != runs.id) others.push_back(id);
  }
  const ScheduleRequest other =
      round_of_another_coordinator(next, others[0], {kA, others[0], others[1]}, {others[0]});
  ASSERT_EQ(other.schedulers.size(), 3u);
  // Both evaluate it; what they publish is held back from A (and the rest is dropped).
  std::vector<std::pair<std::string, Bytes>> announcements;
  for (const auto& id : others) find_node(id)->scheduler->on_round(others[0], encode(other));
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (announcements.size() < 2 && std::chrono::steady_clock::now() < give_up) {
    for (const auto& id : others) {
      Node& n = *find_node(id);
      n.ctx->io_context.poll();
      n.ctx->io_context.restart();
      for (auto& [topic, data] : std::exchange(n.ctx->published, {})) {
        if (topic == kDecisions) announcements.emplace_back(id, std::move(data));
      }
      n.ctx->sent.clear();
    }
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(announcements.size(), 2u) << "the other round was not evaluated";

  kill({runs.id});
  Node& a = *find_node(kA);
  ASSERT_TRUE(run_until([&] { return record().rounds.back().round == next; }))
      << "A did not start round " << next;
  for (const auto& [from, data] : announcements) a.scheduler->on_announcement(from, data);
  ASSERT_TRUE(run_until([&] { return replica_node() != nullptr; }))
      << "the lost replica was not placed again";
  const auto& rounds = record().rounds;
  const auto reused =
      std::find_if(rounds.begin(), rounds.end(), [&](const RoundRecord& r) { return r.round == next; });
  ASSERT_NE(reused, rounds.end());
  EXPECT_EQ(reused->outcome, "round-reused");
  EXPECT_TRUE(reused->liars.empty()) << "a scheduler of the other round was named a liar";
  EXPECT_EQ(rounds.back().round, next + 1);
  EXPECT_EQ(rounds.back().outcome, "placed");
  EXPECT_TRUE(said(
      "round " + std::to_string(next) +
      ": 2 of its 3 schedulers evaluated another coordinator's round of this number; another round in 2 s"));
}

}  // namespace
}  // namespace veil::node
