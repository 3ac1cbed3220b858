#include "veil/sched/eligibility.h"

#include <gtest/gtest.h>

namespace veil::sched {
namespace {

JobSpec spec_with(std::vector<Constraint> constraints, std::vector<VolumeMount> volumes = {}) {
  JobSpec spec;
  spec.constraints = std::move(constraints);
  spec.volumes = std::move(volumes);
  return spec;
}

const NodeAttributes kEuNode{{{"region", "eu"}, {"zone", "a"}, {"host", "web-12"}}, {"data"}};
const NodeAttributes kBareNode{};

TEST(Eligibility, EachOperatorMatchesAsNomadsDoes) {
  using Op = Constraint::Operator;
  EXPECT_TRUE(check_eligible(spec_with({{"region", Op::kEqual, {"eu"}}}), kEuNode).ok());
  EXPECT_FALSE(check_eligible(spec_with({{"region", Op::kEqual, {"us"}}}), kEuNode).ok());
  EXPECT_TRUE(check_eligible(spec_with({{"region", Op::kNotEqual, {"us"}}}), kEuNode).ok());
  EXPECT_FALSE(check_eligible(spec_with({{"region", Op::kNotEqual, {"eu"}}}), kEuNode).ok());
  EXPECT_TRUE(check_eligible(spec_with({{"zone", Op::kIn, {"b", "a"}}}), kEuNode).ok());
  EXPECT_FALSE(check_eligible(spec_with({{"zone", Op::kIn, {"b", "c"}}}), kEuNode).ok());
  EXPECT_TRUE(check_eligible(spec_with({{"host", Op::kRegexp, {"web-[0-9]+"}}}), kEuNode).ok());
  // The whole value must match, not a part of it.
  EXPECT_FALSE(check_eligible(spec_with({{"host", Op::kRegexp, {"web"}}}), kEuNode).ok());
  EXPECT_FALSE(check_eligible(spec_with({{"host", Op::kRegexp, {"[0-9]+"}}}), kEuNode).ok());
}

TEST(Eligibility, AMissingLabelMatchesOnlyNotEqual) {
  using Op = Constraint::Operator;
  EXPECT_TRUE(check_eligible(spec_with({{"region", Op::kNotEqual, {"eu"}}}), kBareNode).ok());
  for (Op op : {Op::kEqual, Op::kIn, Op::kRegexp}) {
    auto st = check_eligible(spec_with({{"region", op, {".*"}}}), kBareNode);
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(st.message().find("the node's region is not set"), std::string::npos) << st.message();
  }
}

TEST(Eligibility, EveryVolumeMustBeOfferedAndTheReasonNamesIt) {
  EXPECT_TRUE(check_eligible(spec_with({}, {{"data", "/d", true}}), kEuNode).ok());
  auto st = check_eligible(spec_with({}, {{"data", "/d", true}, {"logs", "/l", false}}), kEuNode);
  EXPECT_EQ(st.message(), "volume logs is not offered");
  auto constraint = check_eligible(spec_with({{"region", Constraint::Operator::kEqual, {"us"}}}), kEuNode);
  EXPECT_EQ(constraint.message(), "constraint region = us: the node's region is 'eu'");
}

TEST(Eligibility, SpreadValueIsTheLabelOrEmpty) {
  JobSpec spec;
  EXPECT_EQ(spread_value(spec, kEuNode), "");
  spec.spread_over = "zone";
  EXPECT_EQ(spread_value(spec, kEuNode), "a");
  EXPECT_EQ(spread_value(spec, kBareNode), "");
}

TEST(Eligibility, NodeAttributesAreValidated) {
  EXPECT_TRUE(validate_node_attributes(kEuNode).ok());
  NodeAttributes bad_name{{{"has space", "x"}}, {}};
  EXPECT_FALSE(validate_node_attributes(bad_name).ok());
  NodeAttributes long_value{{{"k", std::string(kMaxLabelValueBytes + 1, 'v')}}, {}};
  EXPECT_FALSE(validate_node_attributes(long_value).ok());
  NodeAttributes bad_volume{{}, {"Data"}};
  EXPECT_FALSE(validate_node_attributes(bad_volume).ok());
  NodeAttributes many;
  for (std::size_t i = 0; i <= kMaxNodeLabels; ++i) many.labels["l" + std::to_string(i)] = "v";
  EXPECT_FALSE(validate_node_attributes(many).ok());
}

}  // namespace
}  // namespace veil::sched
