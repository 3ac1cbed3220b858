// The job lifecycle (job_state.h): its edges, and a model test in which a coordinator's job
// and the executors of five nodes exchange assignments, stops, reports and their answers in
// random order while nodes die, come back and the operator stops the job — then the cluster is
// left to settle and the job's final state is checked against the containers on every node.
//
// The model mirrors what the daemon does with each message (coordinator_role.cc, executor.cc): the
// coordinator's side calls the same pure functions the daemon calls; the executors' side is
// the executor's rules restated (accept unless fenced, remove on a stop or a refused report,
// report every replica again now and then).
#include "veil/node/job_state.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace veil::node {
namespace {

TEST(JobLifecycle, NothingLeavesStopped) {
  for (int to = 0; to <= static_cast<int>(JobPhase::kSucceeded); ++to) {
    EXPECT_FALSE(job_move_allowed(JobPhase::kStopped, static_cast<JobPhase>(to))) << to;
  }
  for (int to = 0; to <= static_cast<int>(ReplicaPhase::kDead); ++to) {
    EXPECT_FALSE(replica_move_allowed(ReplicaPhase::kStopped, static_cast<ReplicaPhase>(to))) << to;
  }
  EXPECT_FALSE(anchor_move_allowed(AnchorPhase::kAnchored, AnchorPhase::kPending));
  EXPECT_FALSE(anchor_move_allowed(AnchorPhase::kAnchored, AnchorPhase::kFailed));
}

TEST(JobLifecycle, DecryptingOnlyAfterSchedulingAndPlacingOnlyAfterDecrypting) {
  EXPECT_TRUE(job_move_allowed(JobPhase::kScheduling, JobPhase::kDecrypting));
  EXPECT_FALSE(job_move_allowed(JobPhase::kPending, JobPhase::kDecrypting));
  EXPECT_FALSE(job_move_allowed(JobPhase::kRunning, JobPhase::kDecrypting));
  EXPECT_TRUE(job_move_allowed(JobPhase::kDecrypting, JobPhase::kPlacing));
  EXPECT_FALSE(job_move_allowed(JobPhase::kScheduling, JobPhase::kPlacing));
  // A replica with a live node is never placed a second time.
  for (auto from : {ReplicaPhase::kAssigned, ReplicaPhase::kStarting, ReplicaPhase::kRunning, ReplicaPhase::kExited}) {
    EXPECT_FALSE(replica_move_allowed(from, ReplicaPhase::kAssigned)) << phase_name(from);
  }
}

TEST(JobLifecycle, PhaseNamesRoundTripAndUnknownNamesFail) {
  for (int p = 0; p <= static_cast<int>(JobPhase::kSucceeded); ++p) {
    auto parsed = parse_job_phase(phase_name(static_cast<JobPhase>(p)));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, static_cast<JobPhase>(p));
  }
  for (int p = 0; p <= static_cast<int>(ReplicaPhase::kDead); ++p) {
    auto parsed = parse_replica_phase(phase_name(static_cast<ReplicaPhase>(p)));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, static_cast<ReplicaPhase>(p));
  }
  for (int p = 0; p <= static_cast<int>(AnchorPhase::kFailed); ++p) {
    auto parsed = parse_anchor_phase(phase_name(static_cast<AnchorPhase>(p)));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, static_cast<AnchorPhase>(p));
  }
  EXPECT_FALSE(parse_job_phase("Stopped").ok());
  EXPECT_FALSE(parse_replica_phase("").ok());
  EXPECT_FALSE(parse_anchor_phase("pending-event").ok());
}

// Defect 2 of issue #21, as the daemon met it: a stop while the round is in flight, then the
// round's decision arrives. Before the lifecycle, place() assigned the replicas anyway.
TEST(JobLifecycle, AStopDuringSchedulingIgnoresTheLateDecision) {
  JobState job;
  job.replicas.resize(2);
  job.round = 1;
  job.rounds.push_back({.round = 1, .slots = {0, 1}, .nodes = {{"A", {}}, {"B", {}}}});
  ASSERT_TRUE(move(job, JobPhase::kScheduling));
  ASSERT_TRUE(move(job, JobPhase::kDecrypting));
  EXPECT_TRUE(apply_stop(job).empty());  // nothing placed yet: no node to tell
  EXPECT_TRUE(apply_decision(job, 1, {0, 1, 1, 1}).empty());
  EXPECT_EQ(job.phase, JobPhase::kStopped);
  for (const auto& slot : job.replicas) {
    EXPECT_EQ(slot.phase, ReplicaPhase::kStopped);
    EXPECT_TRUE(slot.node.empty());
  }
  // A report from a node that started it anyway is refused, so the node removes it.
  EXPECT_FALSE(apply_report(job, "A", 0, ReplicaPhase::kRunning, "", "").refusal.empty());
  EXPECT_TRUE(slots_needing_placement(job).empty());
}

TEST(JobLifecycle, ReportsFromANodeThatNoLongerHoldsTheReplicaAreRefused) {
  JobState job;
  job.replicas.resize(1);
  job.round = 1;
  job.rounds.push_back({.round = 1, .slots = {0}, .nodes = {{"A", {}}, {"B", {}}}});
  ASSERT_TRUE(move(job, JobPhase::kScheduling));
  ASSERT_TRUE(move(job, JobPhase::kDecrypting));
  ASSERT_EQ(apply_decision(job, 1, {0, 1}).size(), 1u);
  EXPECT_TRUE(apply_report(job, "A", 0, ReplicaPhase::kRunning, "127.0.0.1:1", "").refusal.empty());
  EXPECT_EQ(job.phase, JobPhase::kRunning);
  EXPECT_EQ(mark_lost(job, "A"), std::vector<std::uint32_t>{0});
  // A was only partitioned: its next report is refused while the replica waits for a node.
  EXPECT_FALSE(apply_report(job, "A", 0, ReplicaPhase::kRunning, "127.0.0.1:1", "").refusal.empty());
  EXPECT_FALSE(apply_report(job, "B", 0, ReplicaPhase::kRunning, "", "").refusal.empty());
  EXPECT_FALSE(apply_report(job, "A", 7, ReplicaPhase::kRunning, "", "").refusal.empty());
}

// A job of `replicas` replicas whose round 1 placed replica i on node "N<i>", as apply_decision does.
JobState placed_job(const std::string& yaml_tail, std::uint32_t replicas) {
  JobState job;
  job.spec_yaml = "name: web\nimage: x@sha256:" + std::string(64, 'a') + "\nresources: {cpu: 1, memory: 1}\n" + yaml_tail;
  auto spec = sched::parse_job_spec(job.spec_yaml);
  EXPECT_TRUE(spec.ok()) << spec.status().to_string();
  if (spec.ok()) job.spec = *spec;
  job.replicas.resize(replicas);
  job.round = 1;
  RoundRecord rr{.round = 1};
  std::vector<std::uint64_t> plaintexts;
  for (std::uint32_t i = 0; i < replicas; ++i) {
    rr.slots.push_back(i);
    rr.nodes.push_back({"N" + std::to_string(i), {}});
    plaintexts.insert(plaintexts.end(), {i, 1});
  }
  job.rounds.push_back(rr);
  EXPECT_TRUE(move(job, JobPhase::kScheduling));
  EXPECT_TRUE(move(job, JobPhase::kDecrypting));
  EXPECT_EQ(apply_decision(job, 1, plaintexts).size(), replicas);
  return job;
}

TEST(JobLifecycle, ABatchJobSucceedsOnceEveryReplicaExitedZero) {
  JobState job = placed_job("type: batch\n", 2);
  EXPECT_TRUE(apply_report(job, "N0", 0, ReplicaPhase::kRunning, "", "").refusal.empty());
  auto first = apply_report(job, "N0", 0, ReplicaPhase::kSucceeded, "", "", 0);
  EXPECT_TRUE(first.refusal.empty());
  EXPECT_FALSE(first.finished);
  EXPECT_NE(job.phase, JobPhase::kSucceeded);
  auto second = apply_report(job, "N1", 1, ReplicaPhase::kSucceeded, "", "", 0);
  EXPECT_TRUE(second.finished);
  EXPECT_EQ(job.phase, JobPhase::kSucceeded);
  EXPECT_EQ(job.replicas[1].exit_code, 0);
  // Finished replicas are no longer active: no new round, no report moves them back.
  EXPECT_TRUE(slots_needing_placement(job).empty());
  EXPECT_FALSE(apply_report(job, "N0", 0, ReplicaPhase::kRunning, "", "").refusal.empty());
  EXPECT_EQ(job.replicas[0].phase, ReplicaPhase::kSucceeded);
  EXPECT_TRUE(mark_lost(job, "N0").empty());  // its node may leave now
  EXPECT_FALSE(job_move_allowed(JobPhase::kSucceeded, JobPhase::kScheduling));
  EXPECT_TRUE(job_move_allowed(JobPhase::kSucceeded, JobPhase::kStopped));
}

TEST(JobLifecycle, ABatchReplicaGivenUpWithNoRescheduleLeftIsDeadAndTheJobFailedWithItsCode) {
  JobState job = placed_job("type: batch\nrestart: {attempts: 0}\nreschedule: {attempts: 0}\n", 1);
  auto outcome = apply_report(job, "N0", 0, ReplicaPhase::kFailed, "", "exited with code 3", 3, 1'000);
  EXPECT_TRUE(outcome.refusal.empty());
  EXPECT_FALSE(outcome.reschedule);
  EXPECT_TRUE(outcome.finished);
  EXPECT_EQ(job.replicas[0].phase, ReplicaPhase::kDead);
  EXPECT_EQ(job.replicas[0].exit_code, 3);
  EXPECT_EQ(job.phase, JobPhase::kFailed);
  EXPECT_TRUE(slots_needing_placement(job).empty());
  EXPECT_FALSE(replica_move_allowed(ReplicaPhase::kDead, ReplicaPhase::kAssigned));
  EXPECT_TRUE(replica_move_allowed(ReplicaPhase::kDead, ReplicaPhase::kStopped));
}

TEST(JobLifecycle, AGivenUpReplicaIsRescheduledAwayFromItsNodesUntilTheWindowsAttemptsAreUsed) {
  JobState job = placed_job("reschedule: {attempts: 2, interval: 1m}\n", 2);
  EXPECT_TRUE(apply_report(job, "N1", 1, ReplicaPhase::kRunning, "", "").refusal.empty());
  auto first = apply_report(job, "N0", 0, ReplicaPhase::kFailed, "", "unhealthy", std::nullopt, 10'000);
  EXPECT_TRUE(first.reschedule);
  EXPECT_EQ(job.replicas[0].phase, ReplicaPhase::kFailed);
  EXPECT_EQ(slots_needing_placement(job), std::vector<std::uint32_t>{0});
  // The new round leaves out N1 (it runs replica 1) and N0 (replica 0 failed there).
  EXPECT_EQ(reschedule_exclusions(job), (std::set<std::string>{"N0", "N1"}));
  // Round 2 places it on N2, where it fails again: the second attempt of the minute.
  job.round = 2;
  job.rounds.push_back({.round = 2, .slots = {0}, .nodes = {{"N2", {}}}});
  ASSERT_TRUE(move(job, JobPhase::kScheduling));
  ASSERT_TRUE(move(job, JobPhase::kDecrypting));
  ASSERT_EQ(apply_decision(job, 2, {0, 1}).size(), 1u);
  EXPECT_EQ(reschedule_exclusions(job), (std::set<std::string>{"N1", "N2"}));  // none needs placement
  EXPECT_TRUE(apply_report(job, "N2", 0, ReplicaPhase::kFailed, "", "", 1, 20'000).reschedule);
  EXPECT_EQ(reschedule_exclusions(job), (std::set<std::string>{"N0", "N1", "N2"}));
  // A third failure within the minute: no attempt left, so it is dead (and the job is not
  // finished: replica 1 still runs).
  job.round = 3;
  job.rounds.push_back({.round = 3, .slots = {0}, .nodes = {{"N3", {}}}});
  ASSERT_TRUE(move(job, JobPhase::kScheduling));
  ASSERT_TRUE(move(job, JobPhase::kDecrypting));
  ASSERT_EQ(apply_decision(job, 3, {0, 1}).size(), 1u);
  auto third = apply_report(job, "N3", 0, ReplicaPhase::kFailed, "", "", 1, 30'000);
  EXPECT_FALSE(third.reschedule);
  EXPECT_FALSE(third.finished);
  EXPECT_EQ(job.replicas[0].phase, ReplicaPhase::kDead);
  // Had the first two been more than a minute before, the window would have allowed it.
  JobState later = placed_job("reschedule: {attempts: 1, interval: 1m}\n", 1);
  later.replicas[0].reschedules_ms = {10'000};
  EXPECT_FALSE(apply_report(later, "N0", 0, ReplicaPhase::kFailed, "", "", 1, 69'999).reschedule);
  later = placed_job("reschedule: {attempts: 1, interval: 1m}\n", 1);
  later.replicas[0].reschedules_ms = {10'000};
  EXPECT_TRUE(apply_report(later, "N0", 0, ReplicaPhase::kFailed, "", "", 1, 70'000).reschedule);
}

TEST(JobLifecycle, APullIsNotedWhenItStartsAndWhenItsNodeReportsWithoutItAndLateProgressIsIgnored) {
  JobState job = placed_job("", 1);
  ReplicaSlot& slot = job.replicas[0];
  const ImagePull early{"r/web:1", 2, 0, 0, 3'000'000};
  const ImagePull done{"r/web:1", 3, 3, 4'500'000, 4'500'000};
  EXPECT_EQ(note_pull(slot, early, 100, 1'000), "pulling image r/web:1");
  EXPECT_EQ(note_pull(slot, ImagePull{"r/web:1", 3, 1, 1'000'000, 4'500'000}, 200, 1'500), "") << "progress alone says nothing";
  EXPECT_EQ(slot.pull->layers_done, 1u);
  EXPECT_EQ(note_pull(slot, done, 300, 2'000), "");

  // The record written while it pulls carries the sums; a reader of another node shows them.
  auto copy = job_from_json(to_json(job));
  ASSERT_TRUE(copy.ok()) << copy.status().to_string();
  EXPECT_EQ(copy->replicas[0].pull, done);
  EXPECT_EQ(copy->replicas[0].pull_started_ms, 1'000u);

  EXPECT_EQ(note_pull(slot, std::nullopt, 400, 3'300), "image r/web:1 pulled (3/3 layers, 4.5 MB of 4.5 MB) in 2.3 s");
  EXPECT_FALSE(slot.pull.has_value());
  EXPECT_FALSE(job_from_json(to_json(job))->replicas[0].pull.has_value());
  // Progress sent before that state report but delivered after it on another stream.
  EXPECT_EQ(note_pull(slot, done, 300, 3'400), "");
  EXPECT_FALSE(slot.pull.has_value()) << "a late progress report must not bring an ended pull back";

  // A pull that failed part-way ends without "pulled"; a placement in a later round on another
  // node (whose clock may be behind) starts afresh.
  slot.round = 2;
  EXPECT_EQ(note_pull(slot, ImagePull{"r/web:2", 4, 1, 10, 20}, 50, 4'000), "pulling image r/web:2");
  EXPECT_EQ(note_pull(slot, std::nullopt, 60, 4'100), "pull of image r/web:2 ended at 1/4 layers, 10 B of 20 B after 0.1 s");
}

TEST(JobLifecycle, AnUnhealthyReplicaStaysActiveOnItsNode) {
  JobState job = placed_job("", 1);
  EXPECT_TRUE(apply_report(job, "N0", 0, ReplicaPhase::kRunning, "", "").refusal.empty());
  EXPECT_EQ(job.phase, JobPhase::kRunning);
  EXPECT_TRUE(apply_report(job, "N0", 0, ReplicaPhase::kUnhealthy, "", "check failed 3 times").refusal.empty());
  EXPECT_EQ(job.replicas[0].phase, ReplicaPhase::kUnhealthy);
  EXPECT_EQ(active_replica_nodes(job), std::set<std::string>{"N0"});
  EXPECT_TRUE(slots_needing_placement(job).empty());
  EXPECT_EQ(mark_lost(job, "N0"), std::vector<std::uint32_t>{0});  // its node's death still moves it
}

TEST(JobLifecycle, TheFenceRefusesOnlyTheStoppingCoordinatorsEarlierRounds) {
  StopFence fence;
  const Hash32 job{1};
  fence.record_stop(job, 0, "C", 4);
  EXPECT_FALSE(fence.admits(job, 0, "C", 4));
  EXPECT_FALSE(fence.admits(job, 0, "C", 3));
  EXPECT_TRUE(fence.admits(job, 0, "C", 5));
  EXPECT_TRUE(fence.admits(job, 1, "C", 4));
  EXPECT_TRUE(fence.admits(job, 0, "Mallory", 4));  // another peer's stop fences nothing of C's
}

TEST(JobLifecycle, PersistedJobsRoundTripAndUnknownPhasesAreDataLoss) {
  JobState job;
  job.id = Hash32{7};
  job.spec_yaml = "name: web\nimage: x@sha256:" + std::string(64, 'a') + "\nresources: {cpu: 1, memory: 1}\n";
  job.phase = JobPhase::kPlacing;
  job.round = 3;
  job.replicas = {{"A", ReplicaPhase::kRunning, "127.0.0.1:9", "", 3}, {"", ReplicaPhase::kNoFit, "", "", 3}};
  job.anchors = {{3, AnchorPhase::kSending, "0xab", "", "", 0}};
  nlohmann::json j = to_json(job);
  auto back = job_from_json(j);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->phase, JobPhase::kPlacing);
  EXPECT_EQ(back->replicas[0].phase, ReplicaPhase::kRunning);
  EXPECT_EQ(back->replicas[1].phase, ReplicaPhase::kNoFit);
  EXPECT_EQ(back->anchors[0].phase, AnchorPhase::kPending);  // died while sending: send again
  EXPECT_FALSE(back->replicas[0].exit_code.has_value());
  // Exit codes and the reschedule record survive a restart; documents without them still load.
  job.replicas[1] = {"", ReplicaPhase::kDead, "", "exited with code 3", 3, 3, {"A", "B"}, {5, 6}};
  auto dead = job_from_json(to_json(job));
  ASSERT_TRUE(dead.ok()) << dead.status().to_string();
  EXPECT_EQ(dead->replicas[1].phase, ReplicaPhase::kDead);
  EXPECT_EQ(dead->replicas[1].exit_code, 3);
  EXPECT_EQ(dead->replicas[1].failed_nodes, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(dead->replicas[1].reschedules_ms, (std::vector<std::uint64_t>{5, 6}));
  nlohmann::json old = j;
  for (auto& r : old["replicas"]) {
    r.erase("exit_code");
    r.erase("failed_nodes");
    r.erase("reschedules_ms");
  }
  EXPECT_TRUE(job_from_json(old).ok());
  // Versions survive too; records written before versions are the first of their name.
  job.job_version = 3;
  job.history = {{1, Hash32{7}, 10, "submitted"}, {2, Hash32{8}, 20, "submitted"}, {3, Hash32{7}, 30, "revert to version 1"}};
  auto versioned = job_from_json(to_json(job));
  ASSERT_TRUE(versioned.ok()) << versioned.status().to_string();
  EXPECT_EQ(versioned->job_version, 3u);
  ASSERT_EQ(versioned->history.size(), 3u);
  EXPECT_EQ(versioned->history[1].id, Hash32{8});
  EXPECT_EQ(versioned->history[2].cause, "revert to version 1");
  EXPECT_EQ(versioned->history[2].submitted_ms, 30u);
  // A rolling update in progress survives too (a successor goes on with it); a slot that is not
  // a number is data loss, not an exception.
  job.rollout = Rollout{Hash32{8}, 2, 1, {{0, 100}, {1, 150}}, 140, false};
  auto rolling = job_from_json(to_json(job));
  ASSERT_TRUE(rolling.ok()) << rolling.status().to_string();
  ASSERT_TRUE(rolling->rollout.has_value());
  EXPECT_EQ(rolling->rollout->from, Hash32{8});
  EXPECT_EQ(rolling->rollout->admitted, 2u);
  EXPECT_EQ(rolling->rollout->replaced, 1u);
  EXPECT_EQ(rolling->rollout->healthy_since_ms, (std::map<std::uint32_t, std::uint64_t>{{0, 100}, {1, 150}}));
  EXPECT_EQ(rolling->rollout->step_started_ms, 140u);
  nlohmann::json bad_slot = to_json(job);
  bad_slot["rollout"]["healthy_since_ms"]["x1"] = 5;
  EXPECT_EQ(job_from_json(bad_slot).status().code(), StatusCode::kDataLoss);
  job.rollout.reset();
  nlohmann::json unversioned = j;
  unversioned.erase("job_version");
  unversioned.erase("history");
  auto first = job_from_json(unversioned);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->job_version, 1u);
  EXPECT_TRUE(first->history.empty());
  j["replicas"][0]["state"] = "runnin";
  auto bad = job_from_json(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
}

// ---- the model --------------------------------------------------------------------------------

enum class Kind { kAssign, kAssignAnswer, kStop, kReport, kReportAnswer };

struct Message {
  Kind kind;
  std::string node;  // the executor it goes to or comes from
  std::uint32_t slot = 0;
  std::uint32_t round = 0;   // assignment's or stop's round; for reports, the executor's copy's round
  std::string refusal;       // answers
};

struct Executor {
  bool up = true;
  std::map<std::uint32_t, std::uint32_t> containers;  // slot -> round of the accepted assignment
  StopFence fence;
};

struct Decision {
  std::uint32_t round = 0;
  bool agreed = false;
  std::vector<std::uint64_t> plaintexts;
};

class ClusterModel {
 public:
  ClusterModel(std::uint32_t seed, std::uint32_t replicas) : rng_(seed) {
    for (const char* name : {"A", "B", "C", "D", "E"}) nodes_[name];
    job_.id = Hash32{static_cast<std::uint8_t>(seed)};
    job_.replicas.resize(replicas);
    start_round();
  }

  void random_step() {
    switch (pick(10)) {
      case 0: case 1: case 2: deliver_one(); break;
      case 3: decide_one(); break;
      case 4: report_all(); break;
      case 5: if (pick(4) == 0) kill(pick_node(), pick(2) == 0); break;
      case 6: if (pick(3) == 0) revive(pick_node()); break;
      case 7: if (pick(25) == 0) stop_job(); break;
      case 8: start_round(); break;  // a timeout, a retry or a drained report
      default: deliver_one(); break;
    }
  }

  // Every node back; then passes of: every decision and message delivered, a round for any
  // replica that needs a node, every container reported (the executors' periodic re-report).
  void settle() {
    for (auto& [name, e] : nodes_) e.up = true;
    for (int pass = 0; pass < 40; ++pass) {
      while (!decisions_.empty() || !network_.empty()) {
        while (!decisions_.empty()) decide_one();
        while (!network_.empty()) deliver_one();
      }
      if (job_.phase != JobPhase::kStopped && !slots_needing_placement(job_).empty()) start_round();
      else report_all();
    }
    while (!network_.empty()) deliver_one();
  }

  void check_at_rest() const {
    std::map<std::uint32_t, std::vector<std::string>> holders;
    for (const auto& [name, e] : nodes_) {
      for (const auto& [slot, round] : e.containers) holders[slot].push_back(name);
    }
    if (job_.phase == JobPhase::kStopped) {
      for (const auto& slot : job_.replicas) EXPECT_EQ(slot.phase, ReplicaPhase::kStopped) << trace();
      EXPECT_TRUE(holders.empty()) << "a stopped job still runs on " << holders.begin()->second.front() << trace();
      return;
    }
    EXPECT_EQ(job_.phase, JobPhase::kRunning) << phase_name(job_.phase) << trace();
    for (std::uint32_t s = 0; s < job_.replicas.size(); ++s) {
      const ReplicaSlot& slot = job_.replicas[s];
      if (slot.phase == ReplicaPhase::kNoFit) {
        EXPECT_TRUE(holders[s].empty()) << trace();
        continue;
      }
      EXPECT_EQ(slot.phase, ReplicaPhase::kRunning) << "replica " << s << " is " << phase_name(slot.phase) << trace();
      ASSERT_EQ(holders[s].size(), 1u) << "replica " << s << " runs on " << holders[s].size() << " nodes" << trace();
      EXPECT_EQ(holders[s].front(), slot.node) << trace();
    }
    // Anti-affinity: no node runs two replicas of the job.
    std::set<std::string> used;
    for (const auto& slot : job_.replicas) {
      if (slot.phase != ReplicaPhase::kRunning) continue;
      EXPECT_TRUE(used.insert(slot.node).second) << trace();
    }
  }

  std::string trace() const {
    std::string out = "\nevents:";
    for (const auto& line : log_) out += "\n  " + line;
    return out;
  }

 private:
  std::uint32_t pick(std::uint32_t n) { return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng_); }
  std::string pick_node() {
    auto it = nodes_.begin();
    std::advance(it, pick(static_cast<std::uint32_t>(nodes_.size())));
    return it->first;
  }
  void note(std::string line) { log_.push_back(std::move(line)); }

  // The coordinator's start_round: every replica needing a node, over the live nodes.
  void start_round() {
    if (!job_move_allowed(job_.phase, JobPhase::kScheduling)) return;
    const auto slots = slots_needing_placement(job_);
    if (slots.empty()) return;
    RoundRecord rr;
    rr.round = ++job_.round;
    rr.slots = slots;
    for (const auto& [name, e] : nodes_) {
      if (e.up) rr.nodes.push_back({name, {}});
    }
    job_.rounds.push_back(rr);
    ASSERT_TRUE(move(job_, JobPhase::kScheduling));
    // The schedulers' decision, evaluated now, decrypted some time later.
    std::set<std::string> taken = active_replica_nodes(job_);
    Decision d{rr.round, false, {}};
    for (std::size_t c = 0; c < slots.size(); ++c) {
      std::vector<std::uint64_t> free;
      for (std::uint64_t i = 0; i < rr.nodes.size(); ++i) {
        if (taken.count(rr.nodes[i].peer) == 0) free.push_back(i);
      }
      if (free.empty() || pick(10) == 0) {
        d.plaintexts.insert(d.plaintexts.end(), {0, 0});
        continue;
      }
      const std::uint64_t index = free[pick(static_cast<std::uint32_t>(free.size()))];
      taken.insert(rr.nodes[index].peer);
      d.plaintexts.insert(d.plaintexts.end(), {index, 1});
    }
    decisions_.push_back(d);
    note("round " + std::to_string(rr.round) + " for " + std::to_string(slots.size()) + " replica(s)");
  }

  // A quorum agrees (kDecrypting), or the committee's shares combine (apply_decision).
  void decide_one() {
    if (decisions_.empty()) return;
    const std::size_t i = pick(static_cast<std::uint32_t>(decisions_.size()));
    Decision& d = decisions_[i];
    if (!d.agreed) {
      d.agreed = true;
      if (d.round == job_.round && job_.phase == JobPhase::kScheduling) (void)move(job_, JobPhase::kDecrypting);
      return;
    }
    const Decision done = d;
    decisions_.erase(decisions_.begin() + static_cast<std::ptrdiff_t>(i));
    if (job_.phase != JobPhase::kDecrypting || done.round != job_.round) {
      // What on_shares sees for a stale round: job_in_round() refuses it before apply_decision;
      // apply_decision must refuse it on its own too.
      const auto before = job_.replicas.size();
      EXPECT_TRUE(apply_decision(job_, done.round, done.plaintexts).empty() || done.round == job_.round) << trace();
      EXPECT_EQ(before, job_.replicas.size());
      return;
    }
    for (const auto& p : apply_decision(job_, done.round, done.plaintexts)) {
      network_.push_back({Kind::kAssign, p.node, p.slot, done.round, ""});
      note("round " + std::to_string(done.round) + ": replica " + std::to_string(p.slot) + " -> " + p.node);
    }
  }

  void deliver_one() {
    if (network_.empty()) return;
    const std::size_t i = pick(static_cast<std::uint32_t>(network_.size()));
    const Message m = network_[i];
    network_.erase(network_.begin() + static_cast<std::ptrdiff_t>(i));
    Executor& e = nodes_.at(m.node);
    switch (m.kind) {
      case Kind::kAssign: {  // executor.cc handle_assignment
        std::string refusal;
        if (!e.up) refusal = "unreachable";
        else if (!e.fence.admits(job_.id, m.slot, "coordinator", m.round)) refusal = "the coordinator stopped this replica";
        else e.containers[m.slot] = m.round;
        network_.push_back({Kind::kAssignAnswer, m.node, m.slot, m.round, refusal});
        break;
      }
      case Kind::kAssignAnswer:  // coordinator_role.cc place(): on_ack
        if (!m.refusal.empty()) apply_refusal(job_, m.slot, m.round, m.refusal);
        break;
      case Kind::kStop:  // executor.cc handle_assignment with stop
        if (!e.up) break;  // lost: the node's next report is refused instead
        e.fence.record_stop(job_.id, m.slot, "coordinator", m.round);
        e.containers.erase(m.slot);
        break;
      case Kind::kReport: {  // coordinator_role.cc handle_report
        const ReportOutcome outcome = apply_report(job_, m.node, m.slot, ReplicaPhase::kRunning, "", "");
        network_.push_back({Kind::kReportAnswer, m.node, m.slot, m.round, outcome.refusal});
        break;
      }
      case Kind::kReportAnswer: {  // executor.cc report_replicas: on_reply
        auto it = e.containers.find(m.slot);
        if (e.up && !m.refusal.empty() && it != e.containers.end() && it->second == m.round) e.containers.erase(it);
        break;
      }
    }
  }

  void report_all() {
    for (const auto& [name, e] : nodes_) {
      if (!e.up) continue;
      for (const auto& [slot, round] : e.containers) network_.push_back({Kind::kReport, name, slot, round, ""});
    }
  }

  // SWIM declares `name` dead. A crash loses its containers and its memory; a partition keeps
  // them running where nobody can reach them.
  void kill(const std::string& name, bool crash) {
    Executor& e = nodes_.at(name);
    if (!e.up) return;
    e.up = false;
    if (crash) e = Executor{false, {}, {}};
    note(name + (crash ? " crashes" : " is partitioned away"));
    if (!mark_lost(job_, name).empty()) start_round();
  }

  void revive(const std::string& name) {
    if (nodes_.at(name).up) return;
    nodes_.at(name).up = true;
    note(name + " is back");
  }

  void stop_job() {
    for (const StopOrder& order : apply_stop(job_)) network_.push_back({Kind::kStop, order.node, order.slot, job_.round, ""});
    note("the operator stops the job");
  }

  std::mt19937 rng_;
  JobState job_;
  std::map<std::string, Executor> nodes_;
  std::deque<Message> network_;
  std::vector<Decision> decisions_;
  std::vector<std::string> log_;
};

TEST(JobLifecycle, ModelOfStopsDeathsAndLateMessagesSettlesWithoutDuplicatesOrLeftovers) {
  const char* env = std::getenv("VEIL_LIFECYCLE_CASES");
  const int cases = env != nullptr ? std::atoi(env) : 3000;
  for (int seed = 1; seed <= cases; ++seed) {
    ClusterModel model(static_cast<std::uint32_t>(seed), 1 + seed % 3);
    std::mt19937 steps(static_cast<std::uint32_t>(seed) * 7919u);
    const int n = 20 + static_cast<int>(steps() % 80);
    for (int i = 0; i < n; ++i) model.random_step();
    model.settle();
    SCOPED_TRACE("seed " + std::to_string(seed));
    model.check_at_rest();
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(JobLifecycle, AJobIsNamedByItsNameItsIdOrAnIdPrefixOfSixDigits) {
  Hash32 id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xa0 + i);
  const std::string hex = hash_hex(id);
  EXPECT_EQ(match_job("web", id, "web"), JobMatch::kExact);
  EXPECT_EQ(match_job(hex, id, "web"), JobMatch::kExact);
  EXPECT_EQ(match_job(hex.substr(0, 6), id, "web"), JobMatch::kPrefix);
  EXPECT_EQ(match_job(hex.substr(0, 5), id, "web"), JobMatch::kNone) << "too short a prefix names nothing";
  EXPECT_EQ(match_job("a0a1a2ff", id, "web"), JobMatch::kNone);
  EXPECT_EQ(match_job("", id, "web"), JobMatch::kNone);
  EXPECT_EQ(match_job("we", id, "web"), JobMatch::kNone) << "names are not matched by prefix";
  EXPECT_EQ(match_job("a0a1a2", id, "a0a1a2"), JobMatch::kExact) << "a name that looks like a prefix is exact";
}

TEST(JobLifecycle, DuringARollingUpdateOnlyTheAdmittedSlotsArePlaced) {
  JobState job;
  job.replicas.resize(3);
  job.phase = JobPhase::kScheduling;
  EXPECT_EQ(slots_needing_placement(job), (std::vector<std::uint32_t>{0, 1, 2}));
  job.rollout = Rollout{};
  job.rollout->admitted = 1;
  EXPECT_EQ(slots_needing_placement(job), (std::vector<std::uint32_t>{0}));
  job.rollout->admitted = 5;  // more than the job has
  EXPECT_EQ(slots_needing_placement(job), (std::vector<std::uint32_t>{0, 1, 2}));
}

TEST(JobLifecycle, ANameAnswersWithItsRunningVersionElseItsNewestAndAnIdWithItsOwnJob) {
  auto version = [](std::uint8_t id, std::uint32_t n, JobPhase phase) {
    JobState job;
    job.id = Hash32{id};
    job.spec.name = "web";
    job.job_version = n;
    job.phase = phase;
    return job;
  };
  std::vector<JobState> jobs = {version(1, 1, JobPhase::kStopped), version(2, 2, JobPhase::kRunning),
                                version(3, 3, JobPhase::kStopped)};
  auto of = [](JobState& job) -> const JobState& { return job; };
  EXPECT_EQ(best_match(jobs, "web", of)->id, Hash32{2}) << "the running version, though not the newest";
  jobs[1].phase = JobPhase::kStopped;
  EXPECT_EQ(best_match(jobs, "web", of)->id, Hash32{3}) << "none runs: the newest";
  EXPECT_EQ(best_match(jobs, hash_hex(Hash32{1}), of)->id, Hash32{1}) << "an id names its own version";
  EXPECT_EQ(best_match(jobs, "db", of), nullptr);
}

}  // namespace
}  // namespace veil::node
