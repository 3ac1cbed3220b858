// PullTally: the Docker Engine's pull messages summed into layers and bytes (issue 20).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pull_tally.h"

namespace veil::runtime {
namespace {

nlohmann::json message(const std::string& text) { return nlohmann::json::parse(text); }

TEST(PullTally, SumsLayersAndBytesAsTheEngineReportsThem) {
  PullTally tally;
  EXPECT_FALSE(tally.add(message(R"({"status":"Pulling from veil-busybox","id":"1"})"))) << "the image line is no layer";
  EXPECT_TRUE(tally.add(message(R"({"status":"Pulling fs layer","id":"a1"})")));
  EXPECT_TRUE(tally.add(message(R"({"status":"Already exists","id":"b2"})")));
  EXPECT_TRUE(tally.add(message(R"({"status":"Downloading","id":"a1","progressDetail":{"current":400,"total":1000}})")));
  auto p = tally.progress();
  EXPECT_EQ(p.layers, 2u);
  EXPECT_EQ(p.layers_done, 1u);
  EXPECT_EQ(p.bytes_done, 400u);
  EXPECT_EQ(p.bytes_total, 1000u);
  EXPECT_FALSE(tally.add(message(R"({"status":"Downloading","id":"a1","progressDetail":{"current":400,"total":1000}})")))
      << "a repeat changes nothing";
  EXPECT_TRUE(tally.add(message(R"({"status":"Download complete","id":"a1"})")));
  EXPECT_EQ(tally.progress().bytes_done, 1000u);
  EXPECT_TRUE(tally.add(message(R"({"status":"Pull complete","id":"a1"})")));
  EXPECT_EQ(tally.progress().layers_done, 2u);
  EXPECT_FALSE(tally.add(message(R"({"status":"Digest: sha256:00"})")));
  EXPECT_FALSE(tally.add(message(R"({"status":"Status: Downloaded newer image for x"})")));
}

TEST(PullTally, IgnoresWhatIsNotALayerMessage) {
  PullTally tally;
  for (const char* text : {R"([])", R"("Downloading")", R"({"error":"manifest unknown"})", R"({"status":7,"id":"a"})",
                           R"({"status":"Downloading","id":3})", R"({"status":"Something new","id":"a"})"}) {
    EXPECT_FALSE(tally.add(message(text))) << text;
  }
  // Negative or absurd counts never make bytes go backwards or past the total.
  EXPECT_TRUE(tally.add(message(R"({"status":"Downloading","id":"a","progressDetail":{"current":-5,"total":100}})")));
  EXPECT_TRUE(tally.add(message(R"({"status":"Downloading","id":"a","progressDetail":{"current":900,"total":100}})")));
  EXPECT_FALSE(tally.add(message(R"({"status":"Downloading","id":"a","progressDetail":{"current":50,"total":100}})")));
  EXPECT_EQ(tally.progress().bytes_done, 100u);
  EXPECT_EQ(tally.progress().bytes_total, 100u);
  EXPECT_EQ(tally.progress().layers, 1u);
  // A layer whose size the engine has not said yet adds no bytes (found by the fuzzer: done
  // bytes above the total).
  EXPECT_TRUE(tally.add(message(R"({"status":"Downloading","id":"b","progressDetail":{"current":700}})")));
  EXPECT_EQ(tally.progress().bytes_done, 100u);
  EXPECT_EQ(tally.progress().bytes_total, 100u);
  EXPECT_EQ(tally.progress().layers, 2u);
}

}  // namespace
}  // namespace veil::runtime
