#include "veil/sched/telemetry_record.h"

#include <sodium.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "veil/sched/decision.h"

namespace veil::sched {
namespace {

class RecordTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    client_ = new fhe::ClientKey(fhe::ClientKey::generate(fhe::kParamInsecureTestOnly));
    server_ = new fhe::ServerKey(fhe::ServerKey::generate(*client_));
  }
  static void TearDownTestSuite() {
    delete client_;
    delete server_;
  }
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    crypto_sign_keypair(public_key_.data(), secret_key_.data());
    QuantizedTelemetry t;
    t.free = {100, 200, 30, 1};
    t.latency = 7;
    telemetry_ = encrypt_telemetry(t, *client_);
  }
  Bytes record(std::uint64_t sequence, std::uint64_t timestamp) {
    return sign_telemetry_record("12D3KooWNodeA", sequence, timestamp, telemetry_, fhe::kParamInsecureTestOnly, secret_key_);
  }

  static fhe::ClientKey* client_;
  static fhe::ServerKey* server_;
  Ed25519PublicKey public_key_{};
  Ed25519SecretKey secret_key_{};
  EncryptedTelemetry telemetry_{{fhe::FheUint16(nullptr), fhe::FheUint16(nullptr), fhe::FheUint16(nullptr),
                                 fhe::FheUint16(nullptr)},
                                fhe::FheUint16(nullptr)};  // set in SetUp
};
fhe::ClientKey* RecordTest::client_ = nullptr;
fhe::ServerKey* RecordTest::server_ = nullptr;

TEST_F(RecordTest, RoundTripsAndVerifies) {
  Bytes bytes = record(1, 1000);
  auto parsed = parse_telemetry_record(bytes, fhe::kParamInsecureTestOnly);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->node_id, "12D3KooWNodeA");
  EXPECT_EQ(parsed->sequence, 1u);
  EXPECT_EQ(parsed->timestamp_ms, 1000u);
  EXPECT_EQ(parsed->signer, public_key_);
  EXPECT_EQ(parsed->telemetry.free[kMemory].decrypt(*client_), 200u);
  EXPECT_EQ(parsed->telemetry.latency.decrypt(*client_), 7u);
  EXPECT_EQ(telemetry_hash(parsed->telemetry), telemetry_hash(telemetry_));
}

TEST_F(RecordTest, RejectsTamperingTruncationAndWrongParameters) {
  Bytes bytes = record(1, 1000);
  Bytes tampered = bytes;
  tampered[30] ^= 1;  // the sequence number
  auto bad = parse_telemetry_record(tampered, fhe::kParamInsecureTestOnly);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("signature"), std::string::npos) << bad.status().message();
  for (std::size_t cut : {std::size_t{3}, std::size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    auto truncated = parse_telemetry_record(ByteView(bytes).first(cut), fhe::kParamInsecureTestOnly);
    ASSERT_FALSE(truncated.ok()) << cut;
    EXPECT_EQ(truncated.status().code(), cut < 4 ? StatusCode::kDataLoss : truncated.status().code());
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(parse_telemetry_record(longer, fhe::kParamInsecureTestOnly).ok());
  auto other = parse_telemetry_record(bytes, fhe::kParamMessage2Carry2KsPbsTUniform2M128);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("parameter set"), std::string::npos);
  EXPECT_EQ(parse_telemetry_record(bytes, fhe::kParamInsecureTestOnly, 100).status().code(), StatusCode::kOutOfRange);
}

TEST_F(RecordTest, ValidatorRejectsUnknownForeignStaleFutureAndReplayed) {
  TelemetryValidator validator(fhe::kParamInsecureTestOnly, /*max_age_ms=*/5000);
  EXPECT_EQ(validator.accept(record(1, 10'000), 10'000).status().code(), StatusCode::kPermissionDenied);
  Ed25519PublicKey other{};
  other[0] = 1;
  validator.register_node("12D3KooWNodeA", other);
  EXPECT_EQ(validator.accept(record(1, 10'000), 10'000).status().code(), StatusCode::kPermissionDenied);
  validator.register_node("12D3KooWNodeA", public_key_);
  EXPECT_TRUE(validator.accept(record(5, 10'000), 11'000).ok());
  EXPECT_EQ(validator.accept(record(5, 10'500), 11'000).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(validator.accept(record(4, 10'500), 11'000).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(validator.accept(record(6, 1'000), 11'000).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(validator.accept(record(6, 100'000), 11'000).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(validator.accept(record(6, 10'900), 11'000).ok());
}

TEST_F(RecordTest, DecisionHashIsReproducibleAndVerifiable) {
  JobSpec spec;
  spec.name = "web";
  Hash256 job = job_id(spec);
  EncryptedPlacementInput input;
  input.nodes = {telemetry_, telemetry_};
  input.request.amount = {10, 10, 0, 0};
  input.replicas = 1;
  DecisionRecord first = make_decision_record(job, input, place_encrypted(input, *server_));
  DecisionRecord second = make_decision_record(job, input, place_encrypted(input, *server_));
  EXPECT_EQ(decision_hash(first), decision_hash(second));
  EXPECT_TRUE(verify_decision(first, job, input, *server_).ok());

  DecisionRecord forged = first;
  forged.outputs[forged.outputs.size() / 2] ^= 0x40;
  EXPECT_NE(decision_hash(forged), decision_hash(first));
  EXPECT_FALSE(verify_decision(forged, job, input, *server_).ok());
  forged = first;
  forged.policy = "binpack;w=1,1,0,0,1;replicas=1;offset=0";
  EXPECT_NE(verify_decision(forged, job, input, *server_).message().find("policy"), std::string::npos);
  spec.name = "other";
  EXPECT_FALSE(verify_decision(first, job_id(spec), input, *server_).ok());
}

}  // namespace
}  // namespace veil::sched

namespace veil::sched {
namespace {

TEST_F(RecordTest, AttributesTravelSignedAndVersionOneRecordsStillParse) {
  const NodeAttributes attributes{{{"region", "eu"}, {"zone", "b"}}, {"data", "logs"}};
  Bytes bytes = sign_telemetry_record("12D3KooWNodeA", 1, 1000, telemetry_, fhe::kParamInsecureTestOnly, secret_key_, attributes);
  auto parsed = parse_telemetry_record(bytes, fhe::kParamInsecureTestOnly);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->attributes, attributes);
  // The attributes are under the signature: changing the zone's value breaks it.
  const std::string zone_b("zone\x00\x01" "b", 7);
  auto at = std::search(bytes.begin(), bytes.end(), zone_b.begin(), zone_b.end());
  ASSERT_NE(at, bytes.end());
  Bytes moved = bytes;
  moved[static_cast<std::size_t>(at - bytes.begin()) + zone_b.size() - 1] = 'c';
  auto forged = parse_telemetry_record(moved, fhe::kParamInsecureTestOnly);
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.status().message().find("signature"), std::string::npos) << forged.status().message();
  // Version 1 had no attributes section: rebuild one from this record and re-sign it.
  // Before "zone": its length byte, then region's entry (1 + 6 + 2 + 2 bytes), then the count.
  const std::size_t attributes_at = static_cast<std::size_t>(at - bytes.begin()) - 1 - (1 + 6 + 2 + 2) - 2;
  Bytes v1(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(attributes_at));
  v1[5] = 1;  // the version's low byte
  v1.insert(v1.end(), public_key_.begin(), public_key_.end());
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr, v1.data(), v1.size(), secret_key_.data());
  v1.insert(v1.end(), signature.begin(), signature.end());
  auto old = parse_telemetry_record(v1, fhe::kParamInsecureTestOnly);
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_EQ(old->attributes, NodeAttributes{});
  EXPECT_EQ(telemetry_hash(old->telemetry), telemetry_hash(telemetry_));
}

}  // namespace
}  // namespace veil::sched
