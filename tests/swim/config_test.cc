#include "veil/swim/config.h"

#include <gtest/gtest.h>

namespace veil::swim {
namespace {

TEST(SwimConfig, PresetsAreValidAndDiffer) {
  for (const char* name : {"lan", "wan", "local"}) {
    auto c = Config::preset(name);
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_TRUE(c->validate().ok()) << name << ": " << c->validate().to_string();
  }
  Config lan = Config::lan(), wan = Config::wan(), local = Config::local();
  EXPECT_EQ(lan.probe_interval_ms, 1000);
  EXPECT_EQ(lan.probe_timeout_ms, 500);
  EXPECT_EQ(lan.indirect_checks, 3);
  EXPECT_EQ(lan.suspicion_mult, 4);
  EXPECT_EQ(lan.suspicion_max_timeout_mult, 6);
  EXPECT_EQ(lan.retransmit_mult, 4);
  EXPECT_EQ(lan.awareness_max_multiplier, 8);
  EXPECT_EQ(wan.probe_interval_ms, 5000);
  EXPECT_EQ(wan.probe_timeout_ms, 3000);
  EXPECT_EQ(wan.suspicion_mult, 6);
  EXPECT_EQ(wan.gossip_nodes, 4);
  EXPECT_EQ(local.probe_timeout_ms, 200);
  EXPECT_EQ(local.indirect_checks, 1);
  EXPECT_EQ(local.suspicion_mult, 3);
  EXPECT_EQ(local.retransmit_mult, 2);
}

TEST(SwimConfig, UnknownPresetNamesTheChoices) {
  auto c = Config::preset("datacenter");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("lan, wan or local"), std::string::npos);
}

TEST(SwimConfig, WithoutLifeguardTurnsEveryExtensionOff) {
  Config c = Config::lan().without_lifeguard();
  EXPECT_EQ(c.awareness_max_multiplier, 1);
  EXPECT_EQ(c.suspicion_max_timeout_mult, 1);
  EXPECT_FALSE(c.enable_nack);
  EXPECT_FALSE(c.enable_buddy);
  EXPECT_TRUE(c.validate().ok());
  EXPECT_EQ(c.probe_interval_ms, Config::lan().probe_interval_ms);
}

TEST(SwimConfig, ValidateNamesTheBadField) {
  Config c;
  c.probe_timeout_ms = c.probe_interval_ms;
  EXPECT_NE(c.validate().message().find("probe_timeout_ms"), std::string::npos);
  c = Config{};
  c.suspicion_mult = 0;
  EXPECT_NE(c.validate().message().find("suspicion_mult"), std::string::npos);
  c = Config{};
  c.awareness_max_multiplier = 0;
  EXPECT_NE(c.validate().message().find("awareness_max_multiplier"), std::string::npos);
  c = Config{};
  c.max_packet_bytes = 100;
  EXPECT_NE(c.validate().message().find("max_packet_bytes"), std::string::npos);
  c = Config{};
  c.retransmit_mult = 0;
  EXPECT_FALSE(c.validate().ok());
  c = Config{};
  c.indirect_checks = -1;
  EXPECT_FALSE(c.validate().ok());
}

}  // namespace
}  // namespace veil::swim
