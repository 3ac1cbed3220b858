#include "veil/common/config.h"

#include <fstream>

#include <gtest/gtest.h>

namespace veil {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("veil-config-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".yaml");
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (auto& f : files_) std::filesystem::remove(f);
  }
  Result<Config> load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
    Config::LoadOptions options;
    options.file = write(yaml);
    options.environment = std::move(env);
    return Config::load(options);
  }

 private:
  int counter_ = 0;
  std::vector<std::filesystem::path> files_;
};

TEST_F(ConfigTest, DefaultsWithoutFileOrEnvironment) {
  Config::LoadOptions options;
  options.environment = std::map<std::string, std::string>{};
  auto config = Config::load(options);
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->string("docker.socket"), "/var/run/docker.sock");
  EXPECT_EQ(config->integer("telemetry.interval_ms"), 10000);
  EXPECT_FALSE(config->is_set("contract.address"));
  for (const auto& e : config->entries()) EXPECT_EQ(e.source, "default");
}

TEST_F(ConfigTest, EnvNamesFollowOneRule) {
  EXPECT_EQ(config_env_name("contract.address"), "VEIL_CONTRACT_ADDRESS");
  EXPECT_EQ(config_env_name("libp2p.bootstrap"), "VEIL_LIBP2P_BOOTSTRAP");
  EXPECT_EQ(config_env_name("zama.publickey_file"), "VEIL_ZAMA_PUBLICKEY_FILE");
  EXPECT_EQ(config_env_name("node.peerid"), "VEIL_NODE_PEERID");
  EXPECT_EQ(config_env_name("docker.socket"), "VEIL_DOCKER_SOCKET");
}

TEST_F(ConfigTest, FileOverridesDefaultsAndRecordsLine) {
  auto config = load(
      "docker:\n"
      "  socket: /tmp/d.sock\n"
      "libp2p:\n"
      "  bootstrap:\n"
      "    - /ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample\n"
      "    - /ip4/127.0.0.1/tcp/4002/p2p/12D3KooWOther\n");
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->string("docker.socket"), "/tmp/d.sock");
  EXPECT_EQ(config->strings("libp2p.bootstrap").size(), 2u);
  for (const auto& e : config->entries()) {
    if (e.field->key == "docker.socket") { EXPECT_NE(e.source.find(".yaml:2"), std::string::npos) << e.source; }
  }
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
  auto config = load("docker:\n  socket: /tmp/file.sock\n",
                     {{"VEIL_DOCKER_SOCKET", "/tmp/env.sock"},
                      {"VEIL_LIBP2P_BOOTSTRAP", "/ip4/1.2.3.4/tcp/1, /ip4/5.6.7.8/tcp/2"},
                      {"VEIL_CONTRACT_ADDRESS", "0x5FbDB2315678afecb367f032d93F642f64180aa3"}});
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->string("docker.socket"), "/tmp/env.sock");
  EXPECT_EQ(config->strings("libp2p.bootstrap"),
            (std::vector<std::string>{"/ip4/1.2.3.4/tcp/1", "/ip4/5.6.7.8/tcp/2"}));
  EXPECT_EQ(config->string("contract.address"), "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  for (const auto& e : config->entries()) {
    if (e.field->key == "docker.socket") { EXPECT_EQ(e.source, "env VEIL_DOCKER_SOCKET"); }
  }
}

TEST_F(ConfigTest, UnknownEnvironmentVariableWarnsReservedOnesDoNot) {
  auto config = load("", {{"VEIL_DOCKR_SOCKET", "/x"}, {"VEIL_LOG", "debug"}, {"PATH", "/bin"}});
  ASSERT_TRUE(config.ok());
  ASSERT_EQ(config->warnings().size(), 1u);
  EXPECT_NE(config->warnings()[0].find("VEIL_DOCKR_SOCKET"), std::string::npos);
}

TEST_F(ConfigTest, SyntaxErrorNamesFileLineAndShowsTheLine) {
  auto config = load("docker:\n  socket: /tmp/a.sock\n bad: [unclosed\n");
  ASSERT_FALSE(config.ok());
  const std::string m = config.status().message();
  EXPECT_NE(m.find(".yaml:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("3 |  bad: [unclosed"), std::string::npos) << m;
  EXPECT_NE(m.find('^'), std::string::npos) << m;
}

TEST_F(ConfigTest, UnknownKeyIsAnErrorWithSuggestion) {
  auto config = load("docker:\n  sockt: /tmp/a.sock\n");
  ASSERT_FALSE(config.ok());
  const std::string m = config.status().message();
  EXPECT_NE(m.find(".yaml:2:3: unknown setting 'docker.sockt'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'docker.socket'"), std::string::npos) << m;
}

TEST_F(ConfigTest, WrongTypesAndInvalidValuesAreLocated) {
  auto list_for_scalar = load("docker:\n  socket: [a, b]\n");
  ASSERT_FALSE(list_for_scalar.ok());
  EXPECT_NE(list_for_scalar.status().message().find("must be a string"), std::string::npos);

  auto bad_address = load("contract:\n  address: 0x1234\n");
  ASSERT_FALSE(bad_address.ok());
  EXPECT_NE(bad_address.status().message().find(":2:"), std::string::npos);
  EXPECT_NE(bad_address.status().message().find("20-byte hex address"), std::string::npos);

  auto bad_int = load("telemetry:\n  interval_ms: often\n");
  ASSERT_FALSE(bad_int.ok());
  EXPECT_NE(bad_int.status().message().find("not an integer"), std::string::npos);

  auto top_level_list = load("- a\n- b\n");
  ASSERT_FALSE(top_level_list.ok());
}

TEST_F(ConfigTest, BadEnvironmentValueNamesTheVariable) {
  auto config = load("", {{"VEIL_API_LISTEN", "localhost"}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("VEIL_API_LISTEN"), std::string::npos);
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  Config::LoadOptions options;
  options.file = "/nonexistent/veil.yaml";
  options.environment = std::map<std::string, std::string>{};
  auto config = Config::load(options);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
}

// #21.5: `veil --config /dev/zero config show` read until bad_alloc.
TEST_F(ConfigTest, ADeviceOrADirectoryIsRefusedByTheReader) {
  for (const char* file : {"/dev/zero", "/tmp"}) {
    Config::LoadOptions options;
    options.file = file;
    options.environment = std::map<std::string, std::string>{};
    auto config = Config::load(options);
    ASSERT_FALSE(config.ok()) << file;
    EXPECT_EQ(config.status().code(), StatusCode::kFailedPrecondition) << file;
    EXPECT_NE(config.status().message().find(std::string("config file ") + file + " is a"), std::string::npos)
        << config.status().message();
  }
}

// Values that are not UTF-8 reached `config show --output json`, where the JSON encoder threw.
TEST_F(ConfigTest, TextThatIsNotUtf8IsLocated) {
  auto config = load("docker:\n  socket: /tmp/caf\xe9.sock\n");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(":2:19: a config file must be UTF-8 text; byte \\xe9 is not"),
            std::string::npos)
      << config.status().message();
}

// One 512 KiB anchor aliased from every line of a list: a small file, gigabytes of values.
TEST_F(ConfigTest, AliasesCannotExpandBeyondTheSizeLimit) {
  std::string text = "eth:\n  rpc: &big http://" + std::string(512 * 1024, 'x') + "\nlibp2p:\n  bootstrap:\n";
  while (text.size() < (std::size_t{1} << 20) - 64) text += "    - *big\n";
  auto config = load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("values add up to more than 1 MiB"), std::string::npos)
      << config.status().message().substr(0, 300);
}

TEST_F(ConfigTest, EnvironmentValuesMustBeUtf8) {
  auto config = load("", {{"VEIL_DOCKER_SOCKET", "/tmp/caf\xe9.sock"}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("VEIL_DOCKER_SOCKET: '/tmp/caf\\xe9.sock' is not UTF-8 text"),
            std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, SetFromFlagValidates) {
  auto config = load("");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->set("api.listen", "127.0.0.1:9000", "flag --api").ok());
  EXPECT_EQ(config->string("api.listen"), "127.0.0.1:9000");
  EXPECT_FALSE(config->set("api.listen", "127.0.0.1:99999", "flag --api").ok());
  EXPECT_FALSE(config->set("api.lisen", "x", "flag").ok());
}

// was_read is what tests/node/settings_test.cc relies on to find settings nobody reads: it
// must start false for every key, turn true only for the key asked for (by any accessor,
// whatever the value's source), survive copies, and not be set by loading or display.
TEST_F(ConfigTest, RecordsWhichSettingsWereRead) {
  auto config = load("docker:\n  socket: /tmp/d.sock\n", {{"VEIL_SWIM_PRESET", "wan"}});
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  ASSERT_TRUE(config->set("api.listen", "127.0.0.1:9", "flag --api").ok());
  for (const auto& e : config->entries()) EXPECT_FALSE(config->was_read(e.field->key)) << e.field->key;

  (void)config->string("docker.socket");
  (void)config->strings("libp2p.listen");
  (void)config->integer("telemetry.interval_ms");
  (void)config->boolean("debug.fixed_telemetry");
  (void)config->is_set("contract.address");
  const Config copy = *config;
  for (const auto& e : config->entries()) {
    const bool asked = e.field->key == "docker.socket" || e.field->key == "libp2p.listen" ||
                       e.field->key == "telemetry.interval_ms" || e.field->key == "debug.fixed_telemetry" ||
                       e.field->key == "contract.address";
    EXPECT_EQ(config->was_read(e.field->key), asked) << e.field->key;
    EXPECT_EQ(copy.was_read(e.field->key), asked) << e.field->key << " (copy)";
  }
  EXPECT_FALSE(config->was_read("no.such_key"));
}

TEST(ParseBool, AcceptsCommonSpellings) {
  EXPECT_TRUE(*parse_bool("Yes"));
  EXPECT_FALSE(*parse_bool("off"));
  EXPECT_FALSE(parse_bool("maybe").ok());
}

}  // namespace
}  // namespace veil

namespace veil {
namespace {

class MappingConfigTest : public ::testing::Test {
 protected:
  Result<Config> load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
    Config::LoadOptions options;
    options.file = "node.yaml";
    options.text = yaml;
    options.environment = std::move(env);
    return Config::load(options);
  }
};

TEST_F(MappingConfigTest, LabelsAndHostVolumesAreMappingsKeptAsNameValuePairs) {
  auto config = load("node:\n  labels: {region: eu, zone: a}\n  host_volumes:\n    data: /srv/data\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->strings("node.labels"), (std::vector<std::string>{"region=eu", "zone=a"}));
  EXPECT_EQ(config->strings("node.host_volumes"), (std::vector<std::string>{"data=/srv/data"}));
  auto from_env = load("", {{"VEIL_NODE_LABELS", "region=us,zone=b"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status().message();
  EXPECT_EQ(from_env->strings("node.labels"), (std::vector<std::string>{"region=us", "zone=b"}));
  auto nested = load("node:\n  labels: {region: {deep: x}}\n");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("node.labels' must map names to single values"), std::string::npos)
      << nested.status().message();
  auto bare = load("", {{"VEIL_NODE_LABELS", "region"}});
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("NAME=VALUE"), std::string::npos) << bare.status().message();
  // Other list settings still refuse a mapping.
  EXPECT_FALSE(load("libp2p:\n  listen: {a: b}\n").ok());
}

}  // namespace
}  // namespace veil
