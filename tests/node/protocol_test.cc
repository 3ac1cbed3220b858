#include "veil/node/protocol.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <set>

namespace veil::node {
namespace {

Hash32 filled(std::uint8_t b) {
  Hash32 h;
  h.fill(b);
  return h;
}

sched::DecisionRecord sample_record() {
  sched::DecisionRecord r;
  r.job = filled(1);
  r.policy = "spread;w=1,1,0,0,1;replicas=2;offset=0";
  r.inputs = {filled(2), filled(3)};
  r.outputs = {9, 8, 7};
  return r;
}

TEST(ProtocolTest, ScheduleRequestRoundTrips) {
  ScheduleRequest m;
  m.job_id = filled(7);
  m.round = 3;
  m.coordinator = "12D3KooWA";
  m.spec_yaml = "name: web\n";
  m.candidates = {"a", "b", "c"};
  m.schedulers = {"b", "a"};
  m.nodes = {{"a", filled(4)}, {"c", filled(5)}};
  m.replicas = 2;
  m.created_ms = 1234;
  auto back = decode_schedule_request(encode(m));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->job_id, m.job_id);
  EXPECT_EQ(back->round, 3u);
  EXPECT_EQ(back->coordinator, m.coordinator);
  EXPECT_EQ(back->spec_yaml, m.spec_yaml);
  EXPECT_EQ(back->candidates, m.candidates);
  EXPECT_EQ(back->schedulers, m.schedulers);
  EXPECT_EQ(back->nodes, m.nodes);
  EXPECT_EQ(back->replicas, 2u);
  EXPECT_EQ(back->created_ms, 1234u);
  EXPECT_TRUE(back->sample_pool.empty());
  EXPECT_EQ(back->decision_format, sched::kDecisionFormat);
  // A round of a release from before the decision format was named is format 1; 0 is malformed.
  nlohmann::json older = nlohmann::json::from_cbor(encode(m));
  older.erase("decision_format");
  auto from_older = decode_schedule_request(nlohmann::json::to_cbor(older));
  ASSERT_TRUE(from_older.ok()) << from_older.status().to_string();
  EXPECT_EQ(from_older->decision_format, 1u);
  older["decision_format"] = 0;
  EXPECT_FALSE(decode_schedule_request(nlohmann::json::to_cbor(older)).ok());
  // A sampled round carries its pool and sample size; a size that is not the inputs' count is malformed.
  m.sample_pool = {"a", "b", "c", "d"};
  m.sample_size = 2;
  auto sampled = decode_schedule_request(encode(m));
  ASSERT_TRUE(sampled.ok()) << sampled.status().to_string();
  EXPECT_EQ(sampled->sample_pool, m.sample_pool);
  EXPECT_EQ(sampled->sample_size, 2u);
  m.sample_size = 3;
  EXPECT_FALSE(decode_schedule_request(encode(m)).ok());
}

TEST(ProtocolTest, AssignmentCarriesRecordAndShares) {
  Assignment m;
  m.job_id = filled(1);
  m.round = 1;
  m.replica = 1;
  m.record = sample_record();
  m.shares = {{{1, 2}, {3}}, {{4}}};
  auto back = decode_assignment(encode(m));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->record.job, m.record.job);
  EXPECT_EQ(back->record.policy, m.record.policy);
  EXPECT_EQ(back->record.inputs, m.record.inputs);
  EXPECT_EQ(back->record.outputs, m.record.outputs);
  EXPECT_EQ(back->shares, m.shares);
  EXPECT_FALSE(back->stop);
}

TEST(ProtocolTest, SmallMessagesRoundTrip) {
  DecisionAnnouncement a{filled(1), 2, "s", filled(3), "", Bytes(65, 0x1b)};
  auto a2 = decode_decision_announcement(encode(a));
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a2->decision_hash, a.decision_hash);
  EXPECT_EQ(a2->signature, a.signature);
  // A signature is 65 bytes or absent (empty); anything else is refused.
  a.signature.clear();
  ASSERT_TRUE(decode_decision_announcement(encode(a)).ok());
  EXPECT_TRUE(decode_decision_announcement(encode(a))->signature.empty());
  for (std::size_t size : {1u, 64u, 66u}) {
    a.signature = Bytes(size, 0x01);
    const auto refused = decode_decision_announcement(encode(a));
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << size;
    EXPECT_NE(refused.status().message().find("field 'sig'"), std::string::npos) << refused.status().message();
  }
  ReplicaReport r{filled(1), 1, "running", "127.0.0.1:8080", "abc", 99};
  auto r2 = decode_replica_report(encode(r));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->endpoint, r.endpoint);
  EXPECT_EQ(r2->at_ms, 99u);
  EXPECT_FALSE(r2->exit_code.has_value());  // no "exit" field unless the container exited
  r.state = "failed";
  r.exit_code = 3;
  auto exited = decode_replica_report(encode(r));
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(exited->exit_code, 3);
  EXPECT_FALSE(exited->pull.has_value());  // no "pull" field unless the node pulls
  r.state = "starting";
  r.exit_code.reset();
  r.pull = ImagePull{"127.0.0.1:5000/web:1", 3, 1, 2'000'000, 41'000'000};
  auto pulling = decode_replica_report(encode(r));
  ASSERT_TRUE(pulling.ok()) << pulling.status().to_string();
  EXPECT_EQ(pulling->pull, r.pull);
  r.pull->layers_done = 4;  // more done than named
  auto impossible = decode_replica_report(encode(r));
  ASSERT_FALSE(impossible.ok());
  EXPECT_NE(impossible.status().message().find("more layers done than named"), std::string::npos) << impossible.status().to_string();
  // An ack names a coordinator only when a node answers from its copy of another's record.
  auto plain = decode_assignment_ack(encode(AssignmentAck{"refused"}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->error, "refused");
  EXPECT_TRUE(plain->coordinator.empty());
  auto redirect = decode_assignment_ack(encode(AssignmentAck{"", "12D3KooWNodeC"}));
  ASSERT_TRUE(redirect.ok());
  EXPECT_TRUE(redirect->error.empty());
  EXPECT_EQ(redirect->coordinator, "12D3KooWNodeC");
  DecryptResponse d{"", {{1}, {2, 3}}};
  auto d2 = decode_decrypt_response(encode(d));
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->shares, d.shares);
}

TEST(ProtocolTest, RejectsWrongTypeTruncationAndGarbage) {
  const Bytes report = encode(ReplicaReport{filled(1), 0, "running", "", "", 1});
  auto wrong = decode_assignment(report);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("expected a assign message"), std::string::npos);
  Bytes truncated(report.begin(), report.end() - 3);
  auto t = decode_replica_report(truncated);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(decode_schedule_request(Bytes{0xff, 0x00}).ok());
  EXPECT_FALSE(decode_decrypt_request(Bytes{}).ok());
}

TEST(ProtocolTest, RejectsMissingAndMistypedFields) {
  // A schedule request without schedulers is refused: no one would evaluate it.
  ScheduleRequest m;
  m.coordinator = "x";
  auto r = decode_schedule_request(encode(m));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no schedulers"), std::string::npos);
}

TEST(ProtocolTest, RendezvousIsDeterministicAndStable) {
  const std::vector<std::string> peers = {"p1", "p2", "p3", "p4", "p5"};
  const auto a = select_schedulers(filled(1), 1, peers, 3);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a, select_schedulers(filled(1), 1, {"p5", "p4", "p3", "p2", "p1"}, 3)) << "order of candidates matters not";
  EXPECT_EQ(std::set<std::string>(a.begin(), a.end()).size(), 3u);
  // Removing a peer outside the top k leaves the choice unchanged.
  std::vector<std::string> fewer;
  for (const auto& p : peers) {
    if (std::find(a.begin(), a.end(), p) != a.end() || fewer.size() + 3 < peers.size() - 1) fewer.push_back(p);
  }
  EXPECT_EQ(select_schedulers(filled(1), 1, fewer, 3), a);
  // Different jobs spread over different schedulers.
  std::set<std::string> firsts;
  for (std::uint8_t j = 0; j < 32; ++j) firsts.insert(select_schedulers(filled(j), 1, peers, 1).front());
  EXPECT_GT(firsts.size(), 2u);
  EXPECT_EQ(agreement_quorum(3), 2u);
  EXPECT_EQ(agreement_quorum(2), 2u);
  EXPECT_EQ(agreement_quorum(1), 1u);
}

TEST(ProtocolTest, InputsRootDependsOnOrderAndDecisionFormat) {
  const std::uint32_t format = sched::kDecisionFormat;
  EXPECT_NE(inputs_root(format, {filled(1), filled(2)}), inputs_root(format, {filled(2), filled(1)}));
  EXPECT_EQ(inputs_root(format, {filled(1)}), inputs_root(format, {filled(1)}));
  EXPECT_NE(inputs_root(format, {filled(1)}), inputs_root(format + 1, {filled(1)}));
  EXPECT_NE(inputs_root(format, {filled(1)}), inputs_root(1, {filled(1)}));
  // Format 1 is the root its releases anchored: SHA-256("veil-inputs-v1" | hashes).
  const ByteView domain = as_bytes("veil-inputs-v1");
  Bytes v1(domain.begin(), domain.end());
  v1.insert(v1.end(), 32, 0x01);
  Hash32 expected;
  crypto_hash_sha256(expected.data(), v1.data(), v1.size());
  EXPECT_EQ(inputs_root(1, {filled(1)}), expected);
}

}  // namespace
}  // namespace veil::node

namespace veil::node {
namespace {

// Writes one encoded message of each type as fuzzing seeds when VEIL_WRITE_CORPUS names a
// directory (tests/node/corpus/protocol was made this way).
TEST(ProtocolTest, LogsMessagesRoundTripAndRefuseWhatNoJobHas) {
  auto request = decode_logs_request(encode(LogsRequest{filled(7), 50}));
  ASSERT_TRUE(request.ok()) << request.status().to_string();
  EXPECT_EQ(request->job_id, filled(7));
  EXPECT_EQ(request->tail, 50u);
  EXPECT_FALSE(decode_logs_request(encode(LogsRequest{filled(7), 0})).ok());
  EXPECT_FALSE(decode_logs_request(encode(LogsRequest{filled(7), kMaxLogLines + 1})).ok());

  LogsReply reply{"", {{0, "line one\nline two\n"}, {3, ""}}};
  auto back = decode_logs_reply(encode(reply));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_EQ(back->replicas.size(), 2u);
  EXPECT_EQ(back->replicas[0].text, "line one\nline two\n");
  EXPECT_EQ(back->replicas[1].replica, 3u);

  LogsReply too_long{"", {{0, std::string(kMaxReplicaLogBytes + 1, 'x')}}};
  auto refused = decode_logs_reply(encode(too_long));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'text' is too long"), std::string::npos) << refused.status().to_string();
  LogsReply bad_slot{"", {{64, "x"}}};
  EXPECT_FALSE(decode_logs_reply(encode(bad_slot)).ok());
  LogsReply many;
  for (std::uint32_t i = 0; i < 65; ++i) many.replicas.push_back({i % 64, ""});
  EXPECT_FALSE(decode_logs_reply(encode(many)).ok());
  // A request is not a reply.
  EXPECT_FALSE(decode_logs_reply(encode(LogsRequest{filled(7), 5})).ok());
}

TEST(ProtocolTest, SeedCorpus) {
  const char* dir = std::getenv("VEIL_WRITE_CORPUS");
  if (dir == nullptr) GTEST_SKIP() << "set VEIL_WRITE_CORPUS=DIR to write the fuzzing seeds";
  ScheduleRequest s;
  s.coordinator = "12D3KooWA";
  s.spec_yaml = "name: web\n";
  s.candidates = {"a", "b"};
  s.schedulers = {"a"};
  s.nodes = {{"a", filled(1)}};
  s.replicas = 1;
  Assignment a;
  a.record = sample_record();
  a.shares = {{{1, 2}}};
  const std::vector<std::pair<std::string, Bytes>> seeds = {
      {"schedule", encode(s)},
      {"announce", encode(DecisionAnnouncement{filled(1), 1, "a", filled(2), "", Bytes(65, 0x1c)})},
      {"decision", encode(DecisionSubmission{filled(1), 1, sample_record()})},
      {"decrypt", encode(DecryptRequest{filled(1), 1, sample_record()})},
      {"shares", encode(DecryptResponse{"", {{1, 2, 3}}})},
      {"assign", encode(a)},
      {"ack", encode(AssignmentAck{"refused"})},
      {"report", encode(ReplicaReport{filled(1), 0, "running", "127.0.0.1:1", "x", 5})},
      {"report-pull", encode(ReplicaReport{filled(1), 0, "starting", "", "", 5, std::nullopt, ImagePull{"r/i:1", 2, 1, 10, 20}})},
      {"logs-request", encode(LogsRequest{filled(1), 20})},
      {"logs-reply", encode(LogsReply{"", {{0, "hello\n"}, {1, ""}}})}};
  for (const auto& [name, bytes] : seeds) {
    std::FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

}  // namespace
}  // namespace veil::node
