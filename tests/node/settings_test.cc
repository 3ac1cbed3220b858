// The node's settings: every documented setting has a consumer, and the two that state what
// this node must be (node.peerid, zama.publickey_file) stop `veil node run` when they disagree
// with its files (docs/operations.md).
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "daemon_impl.h"  // load_settings: tests/node/CMakeLists.txt puts src/node/src on the path
#include "veil/common/config.h"
#include "veil/fhe/fhe.h"
#include "veil/node/daemon.h"
#include "veil/p2p/identity.h"

namespace veil::node {
namespace {

namespace fs = std::filesystem;

constexpr const char* kContract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

class Scratch {
 public:
  Scratch() {
    dir_ = fs::temp_directory_path() /
           ("veil-settings-" + std::to_string(::getpid()) + "-" + std::to_string(count_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~Scratch() { fs::remove_all(dir_); }
  const fs::path& path() const { return dir_; }

 private:
  static inline int count_ = 0;
  fs::path dir_;
};

void write_file(const fs::path& path, ByteView bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void write_file(const fs::path& path, const std::string& text) { write_file(path, as_bytes(text)); }

fhe::threshold::Hash sha256(ByteView bytes) {
  fhe::threshold::Hash h;
  crypto_hash_sha256(h.data(), bytes.data(), bytes.size());
  return h;
}

// Loads `yaml` with an empty environment (a test's VEIL_* must not leak in).
Config load(const std::string& yaml) {
  Config::LoadOptions options;
  options.text = yaml;
  options.environment = std::map<std::string, std::string>{};
  auto config = Config::load(options);
  if (!config.ok()) throw std::runtime_error("test config: " + config.status().to_string());
  return std::move(*config);
}

std::string new_peer_id() {
  return p2p::PeerId::from_public_key(p2p::KeyPair::generate().public_key()).to_string();
}

// ---- every setting has a consumer --------------------------------------------------------

// Settings that the daemon's loader does not read because another part of the program does,
// each with where. Empty today: the CLI also reads eth.rpc, eth.key_file and contract.address
// (src/cli/chain_cli.cc), api.listen and node.data_dir (src/cli/node_command.cc) and
// docker.socket (src/cli/runtime_command.cc), but the daemon reads each of them too.
const std::set<std::string_view> kReadElsewhere = {};

// Fails on any key of the schema that `veil node run`'s settings loader leaves unread: such a
// key is documented but does nothing. Every setting is given a non-default value first, so a
// read that depends on another setting's value still happens.
TEST(Settings, EverySettingInTheSchemaIsReadByTheNode) {
  const std::string peer = new_peer_id();
  Config config = load("contract: {address: \"" + std::string(kContract) +
                       "\"}\n"
                       "eth: {rpc: \"http://127.0.0.1:8546\", key_file: /tmp/eth.key}\n"
                       "libp2p:\n"
                       "  listen: [/ip4/127.0.0.1/tcp/4101]\n"
                       "  bootstrap: [/ip4/127.0.0.1/tcp/4102/p2p/" +
                       new_peer_id() +
                       "]\n"
                       "node: {peerid: " +
                       peer +
                       ", key_file: /tmp/n.key, data_dir: /tmp/data}\n"
                       "zama: {publickey_file: /tmp/public.key}\n"
                       "docker: {socket: /tmp/docker.sock}\n"
                       "api: {listen: \"127.0.0.1:7601\"}\n"
                       "telemetry: {interval_ms: 1000, cap_cpu_millicores: 1000, cap_memory_mib: 512,"
                       " cap_disk_mib: 1024, cap_gpus: 0}\n"
                       "cluster: {dir: /tmp/cluster}\n"
                       "committee: {member_key: /tmp/member.key, share_file: /tmp/share.sealed, hedge: 5s}\n"
                       "runtime: {driver: process}\n"
                       "sched: {schedulers: 2}\n"
                       "swim: {preset: local}\n"
                       "debug: {tamper_decisions: true, fixed_telemetry: true, wire_dump: /tmp/wire}\n");
  // Not vacuous: loading reads nothing, so whatever is read below was read by the loader.
  ASSERT_GT(config_schema().size(), 20u);
  for (const auto& field : config_schema()) ASSERT_FALSE(config.was_read(field.key)) << field.key;

  auto settings = load_settings(config);
  ASSERT_TRUE(settings.ok()) << settings.status().to_string();
  for (const auto& field : config_schema()) {
    if (kReadElsewhere.count(field.key) > 0) continue;
    EXPECT_TRUE(config.was_read(field.key))
        << field.key << " (" << config_env_name(field.key) << ") is in the schema and docs/operations.md but "
        << "load_settings never reads it: make it do what the docs say, or remove it from both";
  }
  for (auto key : kReadElsewhere) {
    const auto& schema = config_schema();
    EXPECT_TRUE(std::any_of(schema.begin(), schema.end(), [&](const ConfigField& f) { return f.key == key; }))
        << key << " is allow-listed but not in the schema";
  }
  // The two settings of the seed's contract land where start() uses them.
  ASSERT_TRUE(settings->expected_peer.has_value());
  EXPECT_EQ(settings->expected_peer->to_string(), peer);
  EXPECT_EQ(settings->public_key_file, fs::path("/tmp/public.key"));
}

TEST(Settings, AMalformedPeerIdIsRefusedNamingTheSetting) {
  Config config = load("contract: {address: \"" + std::string(kContract) +
                       "\"}\ncluster: {dir: /tmp/c}\n"
                       "node: {peerid: 12D3KooWThisIsNotAValidPeerIdAtAll}\n");
  auto settings = load_settings(config);
  ASSERT_FALSE(settings.ok());
  EXPECT_NE(settings.status().message().find("node.peerid"), std::string::npos)
      << settings.status().to_string();
}

TEST(Settings, BatchedAnchoringReadsItsSizeAndAgeAndRefusesNonsenseNamingTheSetting) {
  const std::string base = "contract: {address: \"" + std::string(kContract) + "\"}\ncluster: {dir: /tmp/c}\n";
  auto defaults = load_settings(load(base));
  ASSERT_TRUE(defaults.ok()) << defaults.status().to_string();
  EXPECT_EQ(defaults->anchor_batch_size, 1u) << "one at a time unless configured";
  EXPECT_EQ(defaults->anchor_batch_max_age, std::chrono::seconds(10));
  auto batched = load_settings(load(base + "chain: {anchor: {batch_size: 32, batch_max_age: 1m30s}}\n"));
  ASSERT_TRUE(batched.ok()) << batched.status().to_string();
  EXPECT_EQ(batched->anchor_batch_size, 32u);
  EXPECT_EQ(batched->anchor_batch_max_age, std::chrono::seconds(90));
  for (const auto& [yaml, key] : {std::pair{"chain: {anchor: {batch_size: 0}}\n", "chain.anchor.batch_size"},
                                  std::pair{"chain: {anchor: {batch_max_age: 10}}\n", "chain.anchor.batch_max_age"},
                                  std::pair{"chain: {anchor: {batch_max_age: 0s}}\n", "chain.anchor.batch_max_age"}}) {
    auto refused = load_settings(load(base + yaml));
    ASSERT_FALSE(refused.ok()) << yaml;
    EXPECT_NE(refused.status().message().find(key), std::string::npos) << refused.status().to_string();
  }
}

// Every successor of a job takes a term of its own in a generation (job_replication.h), so
// there can be no more holders than a generation has terms for.
TEST(Settings, JobHoldersAreBetweenOneAndTheMostAGenerationOfTermsServes) {
  const std::string base = "contract: {address: \"" + std::string(kContract) + "\"}\ncluster: {dir: /tmp/c}\n";
  auto most = load_settings(load(base + "jobs: {holders: " + std::to_string(kMaxJobHolders) + "}\n"));
  ASSERT_TRUE(most.ok()) << most.status().to_string();
  EXPECT_EQ(most->job_holders, kMaxJobHolders);
  for (const std::size_t holders : {std::size_t{0}, kMaxJobHolders + 1}) {
    auto refused = load_settings(load(base + "jobs: {holders: " + std::to_string(holders) + "}\n"));
    ASSERT_FALSE(refused.ok()) << holders;
    EXPECT_NE(refused.status().message().find("jobs.holders"), std::string::npos) << refused.status().to_string();
  }
}

TEST(Settings, CommitteeHedgeIsADurationAndZeroAsksEveryMemberAtOnce) {
  const std::string base = "contract: {address: \"" + std::string(kContract) + "\"}\ncluster: {dir: /tmp/c}\n";
  auto defaults = load_settings(load(base));
  ASSERT_TRUE(defaults.ok()) << defaults.status().to_string();
  EXPECT_EQ(defaults->committee_hedge, std::chrono::seconds(3));
  auto slower = load_settings(load(base + "committee: {hedge: 1m}\n"));
  ASSERT_TRUE(slower.ok()) << slower.status().to_string();
  EXPECT_EQ(slower->committee_hedge, std::chrono::minutes(1));
  auto all_at_once = load_settings(load(base + "committee: {hedge: 0s}\n"));
  ASSERT_TRUE(all_at_once.ok()) << all_at_once.status().to_string();
  EXPECT_EQ(all_at_once->committee_hedge.count(), 0);
  for (const char* yaml : {"committee: {hedge: 3}\n", "committee: {hedge: 11m}\n"}) {
    auto refused = load_settings(load(base + yaml));
    ASSERT_FALSE(refused.ok()) << yaml;
    EXPECT_NE(refused.status().message().find("committee.hedge"), std::string::npos) << refused.status().to_string();
  }
}

// ---- node.peerid ---------------------------------------------------------------------------

class DaemonStart : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = p2p::load_or_create_key_file(scratch_.path() / "node.key");
    ASSERT_TRUE(key.ok()) << key.status().to_string();
    self_ = p2p::PeerId::from_public_key(key->public_key()).to_string();
  }

  // A node config for the scratch directory, with `node_extra` inside `node: {...}` and
  // `extra` YAML lines after. Nothing is listening on the RPC port: every test here must stop
  // before the chain is reached.
  Config config(const std::string& node_extra, const std::string& extra = "") const {
    const fs::path d = scratch_.path();
    return load("contract: {address: \"" + std::string(kContract) +
                "\"}\n"
                "eth: {rpc: \"http://127.0.0.1:1\"}\n"
                "node: {key_file: " +
                (d / "node.key").string() + ", data_dir: " + (d / "data").string() + node_extra +
                "}\n"
                "cluster: {dir: " +
                (d / "cluster").string() + "}\n" + extra);
  }

  // Why Daemon::start refused `config` (each test's config must stop it before the chain).
  static Status start_error(const Config& config) {
    auto daemon = Daemon::start(config);
    EXPECT_FALSE(daemon.ok()) << "the daemon started";
    return daemon.ok() ? Status() : daemon.status();
  }

  Scratch scratch_;
  std::string self_;
};

TEST_F(DaemonStart, RefusesAnIdentityKeyOfAnotherPeerNamingBoth) {
  const std::string expected = new_peer_id();
  const Status status = start_error(config(", peerid: " + expected));
  const std::string error = status.to_string();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << error;
  EXPECT_NE(error.find("node.peerid is " + expected), std::string::npos) << error;
  EXPECT_NE(error.find("is PeerId " + self_), std::string::npos) << error;
}

TEST_F(DaemonStart, GoesOnWhenTheIdentityKeyIsTheExpectedPeer) {
  const std::string error = start_error(config(", peerid: " + self_)).to_string();
  EXPECT_EQ(error.find("node.peerid"), std::string::npos) << error;
  // It stopped at the next step instead: the (absent) cluster material.
  EXPECT_NE(error.find("committee.bin"), std::string::npos) << error;
}

// ---- zama.publickey_file -------------------------------------------------------------------

// A cluster directory whose committee was dealt for `public.key`; `other.key` is a compact
// public key of another client key. No server key: the tests stop before it is needed.
class PublicKeyFile : public DaemonStart {
 protected:
  void SetUp() override {
    DaemonStart::SetUp();
    const auto& params = fhe::kParamInsecureTestOnly;
    cluster_key_ = fhe::CompactPublicKey::generate(fhe::ClientKey::generate(params)).serialize();
    other_key_ = fhe::CompactPublicKey::generate(fhe::ClientKey::generate(params)).serialize();
    fhe::threshold::Committee committee;
    committee.params = &params;
    committee.threshold = 1;
    committee.members = {fhe::threshold::MemberSecretKey::generate().public_key()};
    committee.public_key_hash = sha256(cluster_key_);
    committee.share_hashes = {fhe::threshold::Hash{}};
    const fs::path dir = scratch_.path() / "cluster";
    write_file(dir / "committee.bin", committee.serialize());
    write_file(dir / "committee.json", "{\"members\": [{\"peer_id\": \"" + self_ + "\"}]}\n");
    write_file(dir / "public.key", cluster_key_);
    write_file(scratch_.path() / "other.key", other_key_);
  }

  Bytes cluster_key_, other_key_;
};

TEST_F(PublicKeyFile, AnotherKeyIsRefusedNamingBothHashes) {
  const fs::path other = scratch_.path() / "other.key";
  const Status status = start_error(config("", "zama: {publickey_file: " + other.string() + "}\n"));
  const std::string error = status.to_string();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << error;
  EXPECT_NE(error.find(other.string() + " has SHA-256 " + to_hex(sha256(other_key_))), std::string::npos)
      << error;
  EXPECT_NE(error.find("registered public key hash"), std::string::npos) << error;
  EXPECT_NE(error.find(to_hex(sha256(cluster_key_))), std::string::npos) << error;
}

TEST_F(PublicKeyFile, TheClustersKeyIsUsedFromWhereTheSettingSays) {
  // Only the named file holds the key: the cluster directory's copy is gone.
  const fs::path elsewhere = scratch_.path() / "keys" / "cluster.pk";
  write_file(elsewhere, cluster_key_);
  fs::remove(scratch_.path() / "cluster" / "public.key");
  const std::string error =
      start_error(config("", "zama: {publickey_file: " + elsewhere.string() + "}\n")).to_string();
  EXPECT_EQ(error.find("public.key"), std::string::npos) << error;
  // It read and accepted the key, and stopped at the next file.
  EXPECT_NE(error.find("server.compressed.key"), std::string::npos) << error;
}

TEST_F(PublicKeyFile, UnsetMeansTheClusterDirectorysKeyWhichIsCheckedTheSameWay) {
  write_file(scratch_.path() / "cluster" / "public.key", other_key_);
  const std::string error = start_error(config("")).to_string();
  EXPECT_NE(error.find("public.key has SHA-256 " + to_hex(sha256(other_key_))), std::string::npos) << error;
  EXPECT_NE(error.find(to_hex(sha256(cluster_key_))), std::string::npos) << error;
}

}  // namespace
}  // namespace veil::node
