// The telemetry role (telemetry_role.h) through a NodeContext of the test's own: two nodes'
// roles, the gossip between them carried by hand. What one node publishes the other accepts
// and keeps; what it offers is its capacity minus its reservations with the median latency to
// live peers (checked by decrypting); records from unregistered or impersonated senders, and
// replays, are refused.
#include "telemetry_role.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "fake_node_context.h"
#include "veil/sched/encrypted_placement.h"
#include "veil/sched/resources.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kTopic = "veil/test/telemetry";

// A node's libp2p identity as the daemon derives it: PeerId text and the Ed25519 secret.
struct Identity {
  p2p::KeyPair keys = p2p::KeyPair::generate();
  p2p::PeerId peer = p2p::PeerId::from_public_key(keys.public_key());
  sched::Ed25519SecretKey secret() const {
    const Bytes encoded = keys.encode_private();  // 08 01 12 40 || seed || public
    sched::Ed25519SecretKey out{};
    std::copy(encoded.begin() + 4, encoded.end(), out.begin());
    return out;
  }
};

class TelemetryRoleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    client_ = new fhe::ClientKey(fhe::ClientKey::generate(fhe::kParamInsecureTestOnly));
    public_ = new fhe::CompactPublicKey(fhe::CompactPublicKey::generate(*client_));
  }
  static void TearDownTestSuite() {
    delete public_;
    delete client_;
  }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veil-telemetry-role-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "a");
    fs::create_directories(dir_ / "b");
    a_ = make_context(dir_ / "a", alice_);
    b_ = make_context(dir_ / "b", bob_);
  }
  void TearDown() override {
    for (auto* ctx : {a_.get(), b_.get()}) ctx->blocking.reset();  // finish queued encryptions
    role_a_.reset();
    role_b_.reset();
    a_.reset();
    b_.reset();
    fs::remove_all(dir_);
  }

  std::unique_ptr<FakeContext> make_context(const fs::path& dir, const Identity& who) {
    auto ctx = std::make_unique<FakeContext>(dir);
    ctx->self_id = who.peer.to_string();
    ctx->cluster_keys.public_key = *public_;
    ctx->clock_ms = 1'700'000'000'000;
    return ctx;
  }

  std::unique_ptr<TelemetryRole> make_role(FakeContext& ctx, const Identity& who,
                                           sched::FreeCapacity capacity) {
    TelemetryRole::Options options;
    options.topic = kTopic;
    options.interval = 10s;
    return std::make_unique<TelemetryRole>(ctx, options, [capacity] { return Result<sched::FreeCapacity>(capacity); },
                                           who.secret());
  }

  // Publishes one record from `role` and returns it once the FHE worker has handed it back.
  Bytes publish(FakeContext& ctx, TelemetryRole& role) {
    const std::size_t before = ctx.published.size();
    role.publish_now();
    const auto give_up = std::chrono::steady_clock::now() + 1min;  // a bound for a failing test
    while (ctx.published.size() == before && std::chrono::steady_clock::now() < give_up) {
      ctx.io_context.run_for(10ms);
      ctx.io_context.restart();
    }
    EXPECT_EQ(ctx.published.size(), before + 1) << "nothing published";
    if (ctx.published.size() == before) return {};
    EXPECT_EQ(ctx.published.back().first, kTopic);
    return ctx.published.back().second;
  }

  double refused(FakeContext& ctx, const std::string& reason) {
    return ctx.registry.counter("veil_telemetry_rejected_total", "", {"reason"}).with({reason}).value();
  }

  static sched::QuantizedTelemetry decrypt(const KnownTelemetry& t) {
    return sched::decrypt_telemetry({*t.telemetry}, *client_).at(0);
  }

  static inline fhe::ClientKey* client_ = nullptr;
  static inline fhe::CompactPublicKey* public_ = nullptr;
  fs::path dir_;
  Identity alice_, bob_, carol_;
  std::unique_ptr<FakeContext> a_, b_;
  std::unique_ptr<TelemetryRole> role_a_, role_b_;
};

TEST_F(TelemetryRoleTest, APeerKeepsWhatANodeOffersItsCapacityLessItsReservations) {
  const sched::FreeCapacity measured{8000, 16384, 100'000, 2, 0};
  a_->reserved = sched::FreeCapacity{1500, 4096, 0, 1, 0};
  // Latency: the median over live peers that answered; a peer no longer live does not count.
  const std::string p1 = carol_.peer.to_string(), p2 = "12D3KooWPeerTwo", p3 = "12D3KooWPeerThree";
  const std::string gone = "12D3KooWGone";
  a_->live = {a_->self_id, p1, p2, p3, gone};
  a_->rtts = {{p1, 1ms}, {p2, 9ms}, {p3, 4ms}, {gone, 500ms}};
  role_a_ = make_role(*a_, alice_, measured);
  role_a_->measure_latency();
  a_->live.pop_back();  // `gone` left after answering
  const Bytes record = publish(*a_, *role_a_);

  b_->registered = {alice_.peer.to_string()};
  role_b_ = make_role(*b_, bob_, measured);
  role_b_->on_record(alice_.peer, record);

  auto kept = role_b_->latest(alice_.peer.to_string());
  ASSERT_TRUE(kept.has_value()) << "the peer did not keep the record";
  auto own = role_a_->latest(a_->self_id);
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(kept->hash, own->hash);
  EXPECT_TRUE(role_b_->find(alice_.peer.to_string(), own->hash).has_value());

  const auto expected = sched::quantize_telemetry(sched::FreeCapacity{6500, 12288, 100'000, 1, 4000});
  EXPECT_EQ(decrypt(*kept), expected);
  ASSERT_EQ(role_a_->own_records().size(), 1u);
  EXPECT_EQ(role_a_->own_records().back().values, expected);
  EXPECT_EQ(role_a_->own_records().back().hash, own->hash);
}

TEST_F(TelemetryRoleTest, RecordsFromUnregisteredImpersonatedOrReplayedSendersAreRefused) {
  role_a_ = make_role(*a_, alice_, sched::FreeCapacity{1000, 1024, 1024, 0, 0});
  role_b_ = make_role(*b_, bob_, sched::FreeCapacity{});
  const Bytes record = publish(*a_, *role_a_);

  // Alice is not registered (yet).
  role_b_->on_record(alice_.peer, record);
  EXPECT_FALSE(role_b_->latest(alice_.peer.to_string()).has_value());
  EXPECT_EQ(refused(*b_, "unregistered"), 1);

  // Carol, registered, relays Alice's record as her own: the signature is not Carol's.
  b_->registered = {alice_.peer.to_string(), carol_.peer.to_string()};
  role_b_->on_record(carol_.peer, record);
  EXPECT_FALSE(role_b_->latest(carol_.peer.to_string()).has_value());

  // Alice's own record is kept once; the same bytes again are a replay.
  role_b_->on_record(alice_.peer, record);
  ASSERT_TRUE(role_b_->latest(alice_.peer.to_string()).has_value());
  role_b_->on_record(alice_.peer, record);
  const double received = b_->registry.counter("veil_telemetry_received_total", "").with({}).value();
  EXPECT_EQ(received, 1);

  // A corrupted record is refused and changes nothing.
  Bytes corrupt = record;
  corrupt[corrupt.size() / 2] ^= 0x01;
  const auto before = role_b_->latest(alice_.peer.to_string())->hash;
  role_b_->on_record(alice_.peer, corrupt);
  EXPECT_EQ(role_b_->latest(alice_.peer.to_string())->hash, before);
}

TEST_F(TelemetryRoleTest, EachNodeKeepsItsLastEightRecordsAndItsOwnPlaintextLonger) {
  role_a_ = make_role(*a_, alice_, sched::FreeCapacity{1000, 1024, 1024, 0, 0});
  std::vector<Hash32> hashes;
  for (int i = 0; i < 10; ++i) {
    a_->clock_ms += 10'000;
    (void)publish(*a_, *role_a_);
    hashes.push_back(role_a_->latest(a_->self_id)->hash);
  }
  EXPECT_FALSE(role_a_->find(a_->self_id, hashes[0]).has_value());
  EXPECT_FALSE(role_a_->find(a_->self_id, hashes[1]).has_value());
  for (std::size_t i = 2; i < hashes.size(); ++i) EXPECT_TRUE(role_a_->find(a_->self_id, hashes[i]).has_value()) << i;
  EXPECT_EQ(role_a_->own_records().size(), 10u);
  EXPECT_EQ(role_a_->own_records().front().hash, hashes[0]);
}

}  // namespace
}  // namespace veil::node
