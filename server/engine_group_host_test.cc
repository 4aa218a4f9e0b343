// PlanEngineGroup: the config's engine_layout on hosts with and without GPUs (the tiny golden
// model has 2 attention heads). The group itself runs in //tests/server:engine_group_test.
#include "server/engine_group_host.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using engine::parallel::ParallelLayout;
using ::testing::HasSubstr;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

videogen::v1::ServerConfig Config(const std::string& layout) {
  videogen::v1::ServerConfig config;
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(layout, config.mutable_engine_layout()));
  auto* model = config.add_models();
  model->set_name("tiny");
  model->set_path(RunfilePath("tests/golden/wan_tiny"));
  return config;
}

TEST(PlanEngineGroupTest, OneRankByDefault) {
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan cpu, PlanEngineGroup(Config(""), 0));
  EXPECT_EQ(cpu.ranks, 1);
  EXPECT_FALSE(cpu.cuda);
  EXPECT_EQ(cpu.DeviceOf(0, 0), c10::Device(c10::kCPU));
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan gpu, PlanEngineGroup(Config(""), 1));
  EXPECT_EQ(gpu.ranks, 1);
  EXPECT_TRUE(gpu.cuda);
}

TEST(PlanEngineGroupTest, AllGpusFormOneGroupWithAChosenLayout) {
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan plan, PlanEngineGroup(Config(""), 4));
  EXPECT_EQ(plan.ranks, 4);
  EXPECT_EQ(plan.layout, (ParallelLayout{2, 2, 1}));  // 2 heads: CFG 2 x Ulysses 2.
  EXPECT_EQ(plan.groups, 1);
  EXPECT_EQ(plan.DeviceOf(0, 3), c10::Device(c10::kCUDA, 3));
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan eight, PlanEngineGroup(Config(""), 8));
  EXPECT_EQ(eight.layout, (ParallelLayout{2, 2, 2}));
}

TEST(PlanEngineGroupTest, SeveralGroupsSplitTheGpus) {
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan pairs,
                       PlanEngineGroup(Config("devices_per_group: 2"), 8));
  EXPECT_EQ(pairs.groups, 4);
  EXPECT_EQ(pairs.ranks, 2);
  EXPECT_EQ(pairs.layout, (ParallelLayout{2, 1, 1}));
  EXPECT_EQ(pairs.DeviceOf(3, 1), c10::Device(c10::kCUDA, 7));
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan singles,
                       PlanEngineGroup(Config("devices_per_group: 1"), 8));
  EXPECT_EQ(singles.groups, 8);
  EXPECT_EQ(singles.ranks, 1);
  EXPECT_EQ(singles.DeviceOf(5, 0), c10::Device(c10::kCUDA, 5));
}

TEST(PlanEngineGroupTest, ConfiguredDegreesAndCpuRanks) {
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan plan,
                       PlanEngineGroup(Config("devices_per_group: 2 ulysses_degree: 2"), 0));
  EXPECT_EQ(plan.ranks, 2);
  EXPECT_FALSE(plan.cuda);
  EXPECT_EQ(plan.layout, (ParallelLayout{1, 2, 1}));
  ASSERT_OK_AND_ASSIGN(const EngineGroupPlan ring, PlanEngineGroup(Config("ring_degree: 4"), 4));
  EXPECT_EQ(ring.layout, (ParallelLayout{1, 1, 4}));
}

TEST(PlanEngineGroupTest, RejectsLayoutsThatDoNotFit) {
  EXPECT_THAT(PlanEngineGroup(Config("devices_per_group: 3"), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must divide the host's 4")));
  EXPECT_THAT(PlanEngineGroup(Config("ulysses_degree: 2"), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must equal the group's 4")));
  EXPECT_THAT(PlanEngineGroup(Config("ulysses_degree: 4"), 4),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model \"tiny\": parallel layout cfg1xulysses4xring1")));
  videogen::v1::ServerConfig missing = Config("");
  missing.mutable_models(0)->set_path("/nonexistent");
  EXPECT_THAT(PlanEngineGroup(missing, 2),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("model \"tiny\"")));
}

}  // namespace
}  // namespace videogen::server
