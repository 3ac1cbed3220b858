// The executor role with the process driver (executor_fixture.h).
#include "executor_fixture.h"
#include "veil/node/job_replication.h"
#include <sodium.h>

namespace veil::node {
namespace {

TEST_F(ExecutorTest, StopBeforeTheAssignmentFencesThatRoundAndEarlier) {
  const Hash32 job{1};
  // The stop overtakes the assignment: nothing runs here yet, and the stop is accepted.
  EXPECT_EQ(assign(kCoordinator, assignment(job, 3, 0, /*stop=*/true)), "");
  EXPECT_EQ(assign(kCoordinator, assignment(job, 3, 0)), "the coordinator stopped this replica");
  EXPECT_EQ(assign(kCoordinator, assignment(job, 2, 0)), "the coordinator stopped this replica");
  EXPECT_EQ(ctx_->agreement_asked, 0) << "the fence refuses before any check of the decision";
  // A later round of that coordinator, another replica, or another coordinator is not fenced:
  // it goes on to the decision check (which this test's context refuses).
  EXPECT_EQ(assign(kCoordinator, assignment(job, 4, 0)), "not agreed in this test");
  EXPECT_EQ(assign(kCoordinator, assignment(job, 3, 1)), "not agreed in this test");
  EXPECT_EQ(assign(kOther, assignment(job, 3, 0)), "not agreed in this test");
  EXPECT_EQ(ctx_->agreement_asked, 3);
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
}

TEST_F(ExecutorTest, AssignmentWithoutAnAgreedDecisionIsRefusedAndNotStored) {
  ctx_->agreement = permission_denied(kOther + " is not the coordinator of this round");
  EXPECT_EQ(assign(kOther, assignment(Hash32{2}, 1, 0)), kOther + " is not the coordinator of this round");
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
}

TEST_F(ExecutorTest, UndecodableAssignmentIsRefused) {
  std::string error;
  executor_->handle_assignment(kCoordinator, Bytes{0x01, 0x02},
                               [&error](Bytes reply) { error = decode_assignment_ack(reply)->error; });
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(ctx_->agreement_asked, 0);
}

TEST_F(ExecutorTest, RunsAStoredReplicaAndOnlyItsCoordinatorStopsIt) {
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_EQ(executor_->replica_count(), 1u);
  EXPECT_EQ(executor_->reserved_capacity().memory_mib, 16u);
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  EXPECT_EQ(running(job), 1u);

  EXPECT_EQ(assign(kOther, assignment(job, 1, 0, /*stop=*/true)), "only the job's coordinator may stop it");
  EXPECT_EQ(executor_->replica_count(), 1u);

  EXPECT_EQ(assign(kCoordinator, assignment(job, 1, 0, /*stop=*/true)), "");
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
  ASSERT_TRUE(run_until([&] { return running(job) == 0; })) << "the stopped replica's process still runs";
  // The stop fences the round: its assignment, should it arrive now, does not start again.
  EXPECT_EQ(assign(kCoordinator, assignment(job, 1, 0)), "the coordinator stopped this replica");
}

TEST_F(ExecutorTest, AReportTheCoordinatorRefusesRemovesTheReplica) {
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return !ctx_->reports_to(kCoordinator).empty(); }));
  // The coordinator stopped the job, or moved the replica, while this node was away.
  auto answer = ctx_->sent.front().on_reply;
  answer(encode(AssignmentAck{"unknown job or replica"}));
  EXPECT_EQ(executor_->replica_count(), 0u);
  EXPECT_EQ(stored_replicas(), 0u);
  ASSERT_TRUE(run_until([&] { return running(job) == 0; }));
}

TEST_F(ExecutorTest, AnUndeliveredReportIsSentAgainAndAnAcceptedOneIsKept) {
  store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  const std::size_t before = ctx_->reports_to(kCoordinator).size();
  ctx_->sent.back().on_reply(unavailable("the coordinator is unreachable"));
  const std::uint64_t passes_before = executor_->reconcile_passes();
  ASSERT_TRUE(run_until([&] { return ctx_->reports_to(kCoordinator).size() > before; }));
  EXPECT_LE(executor_->reconcile_passes() - passes_before, 1u)
      << "an undelivered report is sent again on the next pass, not only with the periodic re-report";
  ctx_->sent.back().on_reply(encode(AssignmentAck{}));
  EXPECT_EQ(executor_->replica_count(), 1u);
  EXPECT_EQ(stored_replicas(), 1u);
}

TEST_F(ExecutorTest, AnAnswerThatNamesAnotherCoordinatorSendsTheNextReportThere) {
  // The former coordinator answered from its copy of the record: the coordinator it names
  // judges the replica, which runs on meanwhile.
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  ctx_->sent.back().on_reply(encode(AssignmentAck{"", kOther}));
  ASSERT_TRUE(run_until([&] { return reported(kOther, "running"); }))
      << "the next report did not go to the coordinator the answer names";
  EXPECT_EQ(executor_->replica_count(), 1u);
  EXPECT_EQ(running(job), 1u);
  // The new coordinator's word counts from then on.
  ctx_->sent.back().on_reply(encode(AssignmentAck{"12D3KooWOther does not hold this replica"}));
  EXPECT_EQ(executor_->replica_count(), 0u);
  ASSERT_TRUE(run_until([&] { return running(job) == 0; }));
}

TEST_F(ExecutorTest, AReplicaWhoseCoordinatorIsDeadAsksTheMembersWhoCoordinatesAndReportsThere) {
  // The replica was replaced while this node was away, so the successor's handover never came
  // here: the members' copies of the record name the coordinator to report to (and be refused by).
  const Hash32 job = store_replica(kCoordinator, 1);
  ctx_->live = {ctx_->self_id, kOther};
  ctx_->dead = {kCoordinator};
  executor_->start();
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  ctx_->sent.back().on_reply(unavailable("cannot reach " + kCoordinator));
  auto asked = [&]() -> FakeContext::Sent* {
    for (auto& sent : ctx_->sent) {
      if (sent.peer == kOther && sent.protocol == kJobStateProtocol) return &sent;
    }
    return nullptr;
  };
  ASSERT_TRUE(run_until([&] { return asked() != nullptr; })) << "no member was asked who coordinates";
  auto request = decode_job_state_request(asked()->message);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->kind, JobStateKind::kGet);
  EXPECT_EQ(request->job_id, job);

  const std::string yaml = replica_spec_yaml();
  JobState record;
  record.id = job;
  record.spec_yaml = yaml;
  record.spec = *sched::parse_job_spec(yaml, "test");
  record.coordinator = kOther;
  record.term = 1;
  record.holders = {kOther};
  ASSERT_EQ(sched::job_id(record.spec), job);
  asked()->on_reply(encode(JobStateReply{"", false, {to_json(record).dump()}}));
  ASSERT_TRUE(run_until([&] { return reported(kOther, "running"); }))
      << "the next report did not go to the coordinator the member's copy names";
  EXPECT_EQ(running(job), 1u);
}

TEST_F(ExecutorTest, ReplicasOfItsOwnJobsReportToTheLocalCoordinator) {
  store_replica(ctx_->self_id, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return !ctx_->local_reports.empty(); }));
  EXPECT_TRUE(ctx_->sent.empty()) << "no request to itself over the network";
}

TEST_F(ExecutorTest, DrainStopsEveryReplicaAndReportsItDrained) {
  const Hash32 job = store_replica(kCoordinator, 1);
  executor_->start();
  ASSERT_TRUE(run_until([&] { return running(job) == 1; }));
  bool done = false;
  executor_->drain([&done] { done = true; });
  EXPECT_EQ(stored_replicas(), 0u);
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "drained"); }));
  EXPECT_EQ(running(job), 0u);
  EXPECT_FALSE(done) << "done waits for the coordinator's answer";
  for (auto& s : ctx_->sent) {
    auto r = decode_replica_report(s.message);
    if (r.ok() && r->state == "drained") s.on_reply(encode(AssignmentAck{}));
  }
  EXPECT_TRUE(done);
}

// ---- job types, health checks and restarts (issue 19) ----------------------------------------

TEST_F(ExecutorTest, ABatchReplicaThatExitsZeroIsReportedSucceededAndNeverRunAgain) {
  const fs::path runs = dir_ / "runs";
  const Hash32 job = store_replica(kCoordinator, 1, "type: batch\nenv: {RUNS: '" + runs.string() + "'}\n",
                                   "[/bin/sh, -c, 'echo run >> \"$RUNS\"']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return reported(kCoordinator, "succeeded"); }));
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_EQ(last.state, "succeeded");
  EXPECT_EQ(last.exit_code, 0);
  const std::size_t reports = ctx_->reports_to(kCoordinator).size();
  const std::uint64_t passes = executor_->reconcile_passes();
  ASSERT_TRUE(run_acknowledged_until([&] { return executor_->reconcile_passes() >= passes + 3; }));
  EXPECT_EQ(lines_in(runs), 1u) << "a finished batch replica was started again";
  ASSERT_EQ(containers(job).size(), 1u) << "the finished container is kept for its logs";
  EXPECT_EQ(containers(job).front().state, runtime::ContainerState::kExited);
  EXPECT_EQ(ctx_->reports_to(kCoordinator).size(), reports) << "an acknowledged final state is not reported again";
  EXPECT_EQ(executor_->reserved_capacity().memory_mib, 0u) << "a finished replica reserves nothing";
}

TEST_F(ExecutorTest, ABatchReplicaThatExitsThreeIsReportedFailedWithCodeThreeAndRemoved) {
  const Hash32 job = store_replica(kCoordinator, 1, "type: batch\nrestart: {attempts: 0}\n", "[/bin/sh, -c, 'exit 3']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return reported(kCoordinator, "failed"); }));
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_EQ(last.state, "failed");
  EXPECT_EQ(last.exit_code, 3);
  EXPECT_NE(last.detail.find("exited with code 3"), std::string::npos) << last.detail;
  // Once the coordinator knows (it reschedules the replica or marks it dead), the node lets it go.
  ASSERT_TRUE(run_acknowledged_until([&] { return executor_->replica_count() == 0 && containers(job).empty(); }));
  EXPECT_EQ(stored_replicas(), 0u);
}

TEST_F(ExecutorTest, AnExitedServiceReplicaIsRestartedAttemptsTimesThenGivenUp) {
  const fs::path runs = dir_ / "runs";
  store_replica(kCoordinator, 1, "restart: {attempts: 2, delay: 0s}\nenv: {RUNS: '" + runs.string() + "'}\n",
                "[/bin/sh, -c, 'echo run >> \"$RUNS\"; exit 1']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return executor_->replica_count() == 0; }));
  EXPECT_EQ(lines_in(runs), 3u) << "the first run and two restarts";
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_EQ(last.state, "failed");
  EXPECT_EQ(last.exit_code, 1);
  EXPECT_NE(last.detail.find("2 restart(s) in 30m used up"), std::string::npos) << last.detail;
}

// A replica whose check connects to a port nothing listens on: unhealthy after `failures`
// checks, restarted (stopped and started: starting again until a new pass), unhealthy
// again, and given up with the restarts used up — for the coordinator to move it elsewhere.
TEST_F(ExecutorTest, AFailingHealthCheckRestartsTheReplicaThenGivesItUp) {
  const std::uint16_t port = runtime_test_free_port();
  const Hash32 job = store_replica(kCoordinator, 1,
                                   "ports: [{container: " + std::to_string(port) + ", host: " + std::to_string(port) + "}]\n"
                                   "health: {tcp: {port: " + std::to_string(port) + "}, interval: 100ms, timeout: 200ms, grace: 0s, failures: 2}\n"
                                   "restart: {attempts: 1, delay: 0s}\n");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return executor_->replica_count() == 0; }));
  // The second unhealthy verdict finds the restarts used up: the node reports it failed at once.
  const std::vector<std::string> expected = {"starting", "unhealthy", "starting", "failed"};
  EXPECT_EQ(states_reported(kCoordinator), expected);
  const ReplicaReport last = ctx_->reports_to(kCoordinator).back();
  EXPECT_NE(last.detail.find("unhealthy (cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos) << last.detail;
  EXPECT_NE(last.detail.find("1 restart(s) in 30m used up"), std::string::npos) << last.detail;
  ASSERT_TRUE(run_until([&] { return running(job) == 0; })) << "a given-up replica's process still runs";
}

TEST_F(ExecutorTest, AReplicaWithAPassingCheckIsRunningOnlyAfterItsFirstPass) {
  const std::uint16_t port = runtime_test_free_port();
  const std::string p = std::to_string(port);
  store_replica(kCoordinator, 1, "ports: [{container: " + p + ", host: " + p + "}]\nhealth: {tcp: {port: " + p + "}, interval: 100ms}\n",
                "[/usr/bin/busybox, httpd, -f, -p, '" + p + "']");
  executor_->start();
  ASSERT_TRUE(run_acknowledged_until([&] { return reported(kCoordinator, "running"); }));
  const std::vector<std::string> states = states_reported(kCoordinator);
  EXPECT_EQ(states.front(), "starting");
  EXPECT_EQ(states.back(), "running");
  EXPECT_EQ(std::count(states.begin(), states.end(), "unhealthy"), 0);
}

}  // namespace
}  // namespace veil::node

namespace veil::node {
namespace {

TEST_F(ExecutorTest, LogsGoOnlyToNodesOfTheJobsOwner) {
  const auto owner = chain::Address::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8").value();
  const auto stranger = chain::Address::parse("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC").value();
  const Hash32 job = store_replica(kCoordinator, 1, "", "[/bin/sh, -c, 'echo hello-from-the-job; sleep 300']", owner.to_checksum());
  executor_->start();
  ASSERT_TRUE(run_until([&] { return reported(kCoordinator, "running"); }));
  ctx_->operators[kCoordinator] = owner;
  ctx_->operators[kOther] = stranger;
  auto ask = [&](const std::string& peer) {
    std::optional<LogsReply> answer;
    executor_->handle_logs_request(peer, encode(LogsRequest{job, 20}), [&](Bytes reply) {
      auto decoded = decode_logs_reply(reply);
      EXPECT_TRUE(decoded.ok()) << decoded.status().to_string();
      if (decoded.ok()) answer = *decoded;
    });
    return answer.value_or(LogsReply{"no reply", {}});
  };
  ASSERT_TRUE(run_until([&] {
    auto reply = ask(kCoordinator);
    return reply.error.empty() && reply.replicas.size() == 1 && reply.replicas[0].text.find("hello-from-the-job") != std::string::npos;
  })) << "the owner's node does not get the replica's output";
  const LogsReply refused = ask(kOther);
  EXPECT_TRUE(refused.replicas.empty());
  EXPECT_EQ(refused.error, "the logs of job " + hash_hex(job).substr(0, 12) + " are for nodes of its operator " +
                               owner.to_checksum() + " only");
  ctx_->operators.erase(kOther);  // a node the chain lists for no operator is refused too
  EXPECT_FALSE(ask(kOther).error.empty());
}

}  // namespace
}  // namespace veil::node

namespace veil::node {
namespace {

TEST_F(ExecutorTest, ASealedSecretReachesTheReplicaAsAnEnvironmentVariableAndIsStoredSealed) {
  sched::Ed25519SecretKey identity{};
  std::array<std::uint8_t, 32> ed25519{}, x25519{};
  crypto_sign_keypair(ed25519.data(), identity.data());
  crypto_sign_ed25519_pk_to_curve25519(x25519.data(), ed25519.data());
  const std::string value = "correct-horse-battery-staple";
  Bytes box(value.size() + crypto_box_SEALBYTES);
  crypto_box_seal(box.data(), reinterpret_cast<const unsigned char*>(value.data()), value.size(), x25519.data());
  ctx_->secret_opener = SecretOpener(identity);
  const Hash32 job = store_replica(kCoordinator, 1, "secrets: {API_KEY: {from_env: API_KEY}}\n",
                                   "[/bin/sh, -c, 'echo key=$API_KEY; sleep 300']", "", nlohmann::json{{"API_KEY", to_hex(box)}});
  executor_->start();
  ASSERT_EQ(executor_->replica_count(), 1u);
  ASSERT_TRUE(run_until([&] {
    auto logs = executor_->logs(hash_hex(job), 10);
    return !logs.empty() && logs[0].text.find("key=" + value) != std::string::npos;
  })) << "the replica did not see its secret";
  auto stored = ctx_->db->all(kReplicaDoc);
  ASSERT_TRUE(stored.ok());
  for (const auto& doc : *stored) EXPECT_EQ(doc.dump().find(value), std::string::npos) << "a secret is stored in clear";
}

}  // namespace
}  // namespace veil::node
