#include "veil/common/log.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(Log, DefaultAndPerComponentLevels) {
  ASSERT_TRUE(log::configure("warn,p2p=debug,swim=trace").ok());
  EXPECT_EQ(log::get("node")->level(), spdlog::level::warn);
  EXPECT_EQ(log::get("p2p")->level(), spdlog::level::debug);
  EXPECT_EQ(log::get("swim")->level(), spdlog::level::trace);
}

TEST(Log, ReconfigureUpdatesExistingLoggers) {
  auto fhe = log::get("fhe");
  ASSERT_TRUE(log::configure("error").ok());
  EXPECT_EQ(fhe->level(), spdlog::level::err);
  ASSERT_TRUE(log::configure("info,fhe=off").ok());
  EXPECT_EQ(fhe->level(), spdlog::level::off);
}

TEST(Log, BadSpecIsRejectedAndKeepsPreviousLevels) {
  ASSERT_TRUE(log::configure("info").ok());
  Status bad = log::configure("info,p2p=loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'loud'"), std::string::npos);
  EXPECT_FALSE(log::configure("=debug").ok());
  EXPECT_EQ(log::get("p2p")->level(), spdlog::level::info);
}

}  // namespace
}  // namespace veil
