// Replicated job state and fail-over (job_replication.h): the rendezvous choice of holders and
// successor, a holder's rule for pushes (fencing by epoch), the take-over, and the wire
// messages. Pure functions: no sockets, no clock.
#include "veil/node/job_replication.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace veil::node {
namespace {

std::vector<std::string> peers(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("12D3KooWpeer" + std::to_string(i));
  return out;
}

Hash32 job_hash(std::uint8_t b) {
  Hash32 h{};
  h.fill(b);
  return h;
}

// A running two-replica job coordinated by peers()[0], replicas on 1 and 2, holders 0, 1, 2.
JobState running_job() {
  JobState job;
  job.spec_yaml = "name: web\nimage: x@sha256:" + std::string(64, 'a') + "\nresources: {cpu: 1, memory: 1}\nreplicas: 2\n";
  job.spec = *sched::parse_job_spec(job.spec_yaml, "test");
  job.id = sched::job_id(job.spec);
  job.coordinator = peers(5)[0];
  job.holders = {peers(5)[0], peers(5)[1], peers(5)[2]};
  job.round = 3;
  job.phase = JobPhase::kRunning;
  job.replicas.resize(2);
  for (int i = 0; i < 2; ++i) {
    job.replicas[i].node = peers(5)[i + 1];
    job.replicas[i].phase = ReplicaPhase::kRunning;
    job.replicas[i].round = 3;
  }
  RoundRecord rr;
  rr.round = 3;
  rr.slots = {0, 1};
  rr.outcome = "placed";
  job.rounds.push_back(rr);
  return job;
}

TEST(JobReplication, HolderOrderIsTheSameWhateverTheMembersOrderAndStableUnderChurn) {
  const auto members = peers(7);
  auto shuffled = members;
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(holder_order(job_hash(1), members), holder_order(job_hash(1), shuffled));
  // A member leaving moves only the jobs for which it was a holder: the others keep their order.
  const auto all = holder_order(job_hash(1), members);
  auto without = members;
  without.erase(std::find(without.begin(), without.end(), all.back()));
  auto expected = all;
  expected.pop_back();
  EXPECT_EQ(holder_order(job_hash(1), without), expected);
  // Different jobs spread over different holders.
  std::set<std::string> firsts;
  for (int j = 0; j < 32; ++j) firsts.insert(holder_order(job_hash(static_cast<std::uint8_t>(j)), members).front());
  EXPECT_GT(firsts.size(), 3u);
}

TEST(JobReplication, ChooseHoldersPutsTheCoordinatorFirstAndTakesTheCount) {
  const auto members = peers(6);
  const auto holders = choose_holders(job_hash(2), members[3], members, 3);
  ASSERT_EQ(holders.size(), 3u);
  EXPECT_EQ(holders[0], members[3]);
  std::vector<std::string> others = members;
  others.erase(others.begin() + 3);
  const auto order = holder_order(job_hash(2), others);
  EXPECT_EQ(holders[1], order[0]);
  EXPECT_EQ(holders[2], order[1]);
  EXPECT_EQ(choose_holders(job_hash(2), members[3], {members[3]}, 3), std::vector<std::string>{members[3]});
}

TEST(JobReplication, RefreshKeepsDeadHoldersSoTheMajorityNeverShrinks) {
  JobState job = running_job();
  const auto all = peers(5);
  // Holder 2 died, 3 and 4 are live: a live member replaces it.
  auto refreshed = refresh_holders(job, {all[0], all[1], all[3], all[4]}, 3);
  ASSERT_EQ(refreshed.size(), 3u);
  EXPECT_EQ(std::count(refreshed.begin(), refreshed.end(), all[2]), 0);
  // Cut off alone: the coordinator keeps its two unreachable holders, and needs one of them.
  refreshed = refresh_holders(job, {all[0]}, 3);
  EXPECT_EQ(refreshed, job.holders);
  EXPECT_EQ(holder_quorum(refreshed.size()), 2u);
}

TEST(JobReplication, AReturningMemberDoesNotDisplaceLiveHolders) {
  JobState job = running_job();
  const auto all = peers(5);
  // Whatever the rendezvous order of the returning members 3 and 4, live holders stay, in order.
  EXPECT_EQ(refresh_holders(job, all, 3), job.holders);
  // A dead holder is replaced, and when it returns it does not push its replacement out.
  auto without = refresh_holders(job, {all[0], all[1], all[3], all[4]}, 3);
  job.holders = without;
  EXPECT_EQ(refresh_holders(job, all, 3), without);
}

TEST(JobReplication, SuccessorIsTheFirstLiveHolderAfterTheCoordinator) {
  JobState job = running_job();
  const auto all = peers(5);
  auto live = [](std::set<std::string> s) { return [s](const std::string& p) { return s.count(p) > 0; }; };
  EXPECT_EQ(successor(job, live({all[1], all[2]})), all[1]);
  EXPECT_EQ(successor(job, live({all[2]})), all[2]);
  EXPECT_EQ(successor(job, live({all[0], all[3]})), std::nullopt);  // the coordinator is no successor of itself
  job.phase = JobPhase::kStopped;
  EXPECT_EQ(successor(job, live({all[1]})), std::nullopt);
}

TEST(JobReplication, HoldersKeepTheHighestEpochAndRefuseLowerOnes) {
  JobState held = running_job();
  held.version = 5;
  JobState push = held;
  push.version = 6;
  EXPECT_EQ(judge_push(nullptr, push, true), PushVerdict::kStore);
  EXPECT_EQ(judge_push(&held, push, true), PushVerdict::kStore);
  push.version = 5;
  EXPECT_EQ(judge_push(&held, push, true), PushVerdict::kKeep);  // a repeat or a reordered push
  push.version = 4;
  EXPECT_EQ(judge_push(&held, push, true), PushVerdict::kKeep);

  // A successor's push (higher term) replaces the record once the old coordinator is dead here.
  JobState successor_push = held;
  successor_push.term = 1;
  successor_push.coordinator = peers(5)[1];
  successor_push.version = 0;
  EXPECT_EQ(judge_push(&held, successor_push, /*held_coordinator_live=*/false), PushVerdict::kStore);
  // ...but not while this holder still sees the coordinator alive: no one takes a job over
  // from a coordinator others reach.
  EXPECT_EQ(judge_push(&held, successor_push, /*held_coordinator_live=*/true), PushVerdict::kRefused);

  // The old coordinator, back, pushes its term-0 record: refused, it must step down, whatever
  // its version.
  JobState returning = held;
  returning.version = 1000;
  EXPECT_EQ(judge_push(&successor_push, returning, false), PushVerdict::kSuperseded);

  // Two successors in the same term: the larger PeerId wins everywhere.
  JobState a = successor_push, b = successor_push;
  b.coordinator = peers(5)[2];
  EXPECT_EQ(judge_push(&a, b, false), b.coordinator > a.coordinator ? PushVerdict::kStore : PushVerdict::kSuperseded);
  EXPECT_EQ(judge_push(&b, a, false), a.coordinator > b.coordinator ? PushVerdict::kStore : PushVerdict::kSuperseded);
}

TEST(JobReplication, TakeOverRaisesTheTermMovesRoundsOnAndMarksDeadNodesLost) {
  JobState job = running_job();
  const auto all = peers(5);
  // Coordinator 0 and replica node 2 are dead; 1, 3, 4 live.
  const std::vector<std::string> live = {all[1], all[3], all[4]};
  ASSERT_EQ(successor(job, [&](const std::string& p) { return std::count(live.begin(), live.end(), p) > 0; }), all[1]);
  auto result = take_over(job, all[1], live, 3, 1234, "dead");
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(job.coordinator, all[1]);
  EXPECT_EQ(job.term, kTermsPerGeneration + 1);  // the next generation, first successor
  // The next round is one above the term's first number: no clash with term 0's rounds.
  EXPECT_EQ(job.round, (kTermsPerGeneration + 1) * kRoundsPerTerm);
  EXPECT_EQ(result->lost, std::vector<std::uint32_t>{1});
  EXPECT_EQ(job.replicas[0].phase, ReplicaPhase::kRunning);
  EXPECT_EQ(job.replicas[1].phase, ReplicaPhase::kLost);
  EXPECT_EQ(slots_needing_placement(job), std::vector<std::uint32_t>{1});
  EXPECT_EQ(result->old_holders, (std::vector<std::string>{all[0], all[1], all[2]}));
  ASSERT_EQ(job.holders.size(), 3u);
  EXPECT_EQ(job.holders[0], all[1]);
  ASSERT_EQ(job.handovers.size(), 1u);
  EXPECT_EQ(job.handovers[0].from, all[0]);
  EXPECT_EQ(job.handovers[0].term, kTermsPerGeneration + 1);
  // The old coordinator's record is superseded at every holder that stored this one.
  EXPECT_EQ(judge_push(&job, running_job(), false), PushVerdict::kSuperseded);
}

TEST(JobReplication, ConcurrentSuccessorsTakeDifferentTermsAndOneWins) {
  const auto all = peers(5);
  JobState first = running_job(), second = running_job();
  // Holder 1 and holder 2 both believe they are the first live successor (views differ).
  ASSERT_TRUE(take_over(first, all[1], {all[1], all[2]}, 3, 1, "dead").ok());
  ASSERT_TRUE(take_over(second, all[2], {all[2]}, 3, 1, "dead").ok());
  EXPECT_NE(first.term, second.term);
  EXPECT_NE(first.round, second.round);
  // Every holder ends with the same winner, whichever push it saw first.
  EXPECT_EQ(judge_push(&first, second, false), PushVerdict::kStore);
  EXPECT_EQ(judge_push(&second, first, false), PushVerdict::kSuperseded);
}

TEST(JobReplication, ATakeOverFromAStaleCopyLosesToTheJobsLaterCoordinators) {
  const auto all = peers(6);
  JobState original = running_job();
  original.holders = {all[0], all[1], all[2], all[3]};
  // The job changes hands twice while node 3 is away: 1 takes it over from 0, then 2 from 1.
  JobState current = original;
  ASSERT_TRUE(take_over(current, all[1], {all[1], all[2], all[3]}, 4, 1, "dead").ok());
  current.holders = {all[1], all[2], all[3]};  // make 2 the first successor whatever the hashing says
  ASSERT_TRUE(take_over(current, all[2], {all[2], all[3], all[4]}, 4, 2, "dead").ok());
  // Node 3, back with its copy of the original record, takes the job over as its third
  // successor: old term + place would be 3, above the real coordinator's 2.
  JobState stale = original;
  ASSERT_TRUE(take_over(stale, all[3], {all[3], all[4]}, 4, 3, "dead").ok());
  EXPECT_LT(stale.term, current.term);
  EXPECT_EQ(judge_push(&current, stale, false), PushVerdict::kSuperseded);
  EXPECT_EQ(judge_push(&stale, current, false), PushVerdict::kStore);
  EXPECT_LT(stale.round, current.round);
}

TEST(JobReplication, TakeOverAbandonsTheRoundInFlight) {
  JobState job = running_job();
  const auto all = peers(5);
  job.phase = JobPhase::kPlacing;
  job.replicas[1].phase = ReplicaPhase::kAssigned;  // sent, or not: nobody knows
  job.replicas[1].round = 4;
  RoundRecord rr;
  rr.round = 4;
  rr.slots = {1};
  job.rounds.push_back(rr);
  ASSERT_TRUE(take_over(job, all[1], {all[1], all[2]}, 3, 1, "dead").ok());
  EXPECT_EQ(job.phase, JobPhase::kPending);
  EXPECT_EQ(job.rounds.back().outcome, "coordinator dead");
  EXPECT_EQ(slots_needing_placement(job), std::vector<std::uint32_t>{1});
  // A node that did accept the abandoned assignment reports it: refused, it removes its copy.
  EXPECT_FALSE(apply_report(job, all[2], 1, ReplicaPhase::kRunning, "", "").refusal.empty());
}

TEST(JobReplication, OnlyASuccessorTakesOverAndNeverAStoppedJob) {
  const auto all = peers(5);
  JobState job = running_job();
  EXPECT_FALSE(take_over(job, all[4], {all[4]}, 3, 1, "dead").ok());  // not a holder
  EXPECT_FALSE(take_over(job, all[0], {all[0]}, 3, 1, "dead").ok());  // the coordinator itself
  job.phase = JobPhase::kStopped;
  EXPECT_FALSE(take_over(job, all[1], {all[1]}, 3, 1, "dead").ok());
  JobState worn = running_job();
  worn.term = kMaxTerm;
  EXPECT_FALSE(take_over(worn, all[1], {all[1]}, 3, 1, "dead").ok());
  // A successor beyond the 15th would take a term of the next generation's.
  const auto many = peers(static_cast<int>(kTermsPerGeneration) + 1);
  JobState crowded = running_job();
  crowded.holders = many;
  EXPECT_TRUE(take_over(crowded, many[kTermsPerGeneration - 1], {many[kTermsPerGeneration - 1]}, 3, 1, "dead").ok());
  crowded = running_job();
  crowded.holders = many;
  EXPECT_FALSE(take_over(crowded, many[kTermsPerGeneration], {many[kTermsPerGeneration]}, 3, 1, "dead").ok());
}

TEST(JobReplication, RecordRoundTripsThroughJsonWithItsEpochAndHistory) {
  JobState job = running_job();
  ASSERT_TRUE(take_over(job, peers(5)[1], {peers(5)[1], peers(5)[2]}, 3, 77, "dead").ok());
  job.version = 9;
  auto back = parse_record(to_json(job).dump());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(epoch_of(*back), epoch_of(job));
  EXPECT_EQ(back->version, 9u);
  EXPECT_EQ(back->holders, job.holders);
  ASSERT_EQ(back->handovers.size(), 1u);
  EXPECT_EQ(back->handovers[0].at_ms, 77u);
  // A record whose spec does not hash to its id is refused.
  auto j = to_json(job);
  j["id"] = hash_hex(job_hash(9));
  EXPECT_FALSE(parse_record(j.dump()).ok());
  EXPECT_FALSE(parse_record("{").ok());
}

TEST(JobReplication, MessagesRoundTripAndGarbageIsRefused) {
  JobStateRequest request{JobStateKind::kHandover, job_hash(3), "{}"};
  auto r = decode_job_state_request(encode(request));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->kind, JobStateKind::kHandover);
  EXPECT_EQ(r->job_id, job_hash(3));
  EXPECT_EQ(r->record, "{}");
  JobStateReply reply{"refused", true, {"{\"a\":1}", "{}"}};
  auto back = decode_job_state_reply(encode(reply));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->error, "refused");
  EXPECT_TRUE(back->superseded);
  EXPECT_EQ(back->records, reply.records);
  EXPECT_FALSE(decode_job_state_request(encode(reply)).ok());
  EXPECT_FALSE(decode_job_state_reply(encode(request)).ok());
  EXPECT_FALSE(decode_job_state_request(Bytes{0xff, 0x00}).ok());
  auto cbor = nlohmann::json::to_cbor(nlohmann::json{{"v", 1}, {"t", "jobstate-request"}, {"kind", "steal"}});
  EXPECT_FALSE(decode_job_state_request(cbor).ok());
}

TEST(JobReplication, AGetReplyYieldsTheJobsRecordOrSaysWhyNot) {
  const JobState job = running_job();
  auto record = record_in_get_reply(encode(JobStateReply{"", false, {to_json(job).dump()}}), job.id);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_EQ(record->coordinator, job.coordinator);
  EXPECT_EQ(record->round, job.round);

  EXPECT_EQ(record_in_get_reply(Result<Bytes>(unavailable("timed out")), job.id).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(record_in_get_reply(encode(JobStateReply{"not a member", false, {}}), job.id).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(record_in_get_reply(encode(JobStateReply{}), job.id).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(record_in_get_reply(encode(JobStateReply{"", false, {"{\"id\":1}"}}), job.id).ok());
  EXPECT_FALSE(record_in_get_reply(Bytes{0xff, 0x00}, job.id).ok());
  auto other = record_in_get_reply(encode(JobStateReply{"", false, {to_json(job).dump()}}), job_hash(9));
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument) << "another job's record was taken for this one's";
}

// Writes one encoded message of each kind as fuzzing seeds when VEIL_WRITE_CORPUS names a
// directory (tests/node/corpus/jobstate was made this way).
TEST(JobReplication, SeedCorpus) {
  const char* dir = std::getenv("VEIL_WRITE_CORPUS");
  if (dir == nullptr) GTEST_SKIP() << "set VEIL_WRITE_CORPUS=DIR to write the fuzzing seeds";
  const std::vector<std::pair<std::string, Bytes>> seeds = {
      {"push", encode(JobStateRequest{JobStateKind::kPush, running_job().id, to_json(running_job()).dump()})},
      {"get", encode(JobStateRequest{JobStateKind::kGet, job_hash(1), ""})},
      {"reply", encode(JobStateReply{"", true, {to_json(running_job()).dump()}})}};
  for (const auto& [name, bytes] : seeds) {
    std::FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

}  // namespace
}  // namespace veil::node
