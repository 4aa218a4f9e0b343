#include "engine/scheduler/flow_scheduler_factory.h"

#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "engine/scheduler/flow_match_euler_scheduler.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/scheduler/unipc_flow_scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::scheduler {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

FlowSchedulerConfig WanUniPc() {
  FlowSchedulerConfig config;
  config.class_name = kUniPcClassName;
  config.shift = 3.0;
  return config;
}

FlowSchedulerConfig WanEuler() {
  FlowSchedulerConfig config;
  config.class_name = kFlowMatchEulerClassName;
  config.shift = 3.0;
  return config;
}

std::unique_ptr<FlowScheduler> Make(const FlowSchedulerConfig& config) {
  absl::StatusOr<std::unique_ptr<FlowScheduler>> scheduler = CreateFlowScheduler(config);
  EXPECT_TRUE(scheduler.ok()) << scheduler.status();
  return scheduler.ok() ? *std::move(scheduler) : nullptr;
}

TEST(FlowSchedulerFactoryTest, ChoosesTheClassByName) {
  const auto unipc = Make(WanUniPc());
  EXPECT_NE(dynamic_cast<UniPcFlowScheduler*>(unipc.get()), nullptr);
  const auto euler = Make(WanEuler());
  EXPECT_NE(dynamic_cast<FlowMatchEulerScheduler*>(euler.get()), nullptr);

  FlowSchedulerConfig other = WanUniPc();
  other.class_name = "DDIMScheduler";
  EXPECT_THAT(CreateFlowScheduler(other),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("DDIMScheduler")));
  other = WanUniPc();
  other.solver_order = 0;
  EXPECT_THAT(CreateFlowScheduler(other),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("solver_order")));
  // The classes' own factories refuse the other class's config.
  EXPECT_THAT(UniPcFlowScheduler::Create(WanEuler()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FlowMatchEulerScheduler::Create(WanUniPc()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

class FlowSchedulerContractTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    scheduler_ = Make(GetParam() ? WanUniPc() : WanEuler());
    ASSERT_NE(scheduler_, nullptr);
  }
  std::unique_ptr<FlowScheduler> scheduler_;
};

TEST_P(FlowSchedulerContractTest, SetTimestepsRejectsBadStepCounts) {
  EXPECT_EQ(scheduler_->num_steps(), 0);
  EXPECT_FALSE(scheduler_->timesteps().defined());
  for (int bad : {0, -1, -50, 1001}) {
    EXPECT_THAT(scheduler_->SetTimesteps(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_steps")))
        << bad;
  }
  ASSERT_OK(scheduler_->SetTimesteps(1000));
  ASSERT_OK(scheduler_->SetTimesteps(4));
  EXPECT_THAT(scheduler_->SetTimesteps(0), StatusIs(absl::StatusCode::kInvalidArgument));
  // A failed call keeps the previous grid.
  EXPECT_EQ(scheduler_->num_steps(), 4);
  EXPECT_EQ(scheduler_->timesteps().sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(scheduler_->sigmas().sizes(), (std::vector<int64_t>{5}));
  EXPECT_EQ(scheduler_->timesteps().scalar_type(), GetParam() ? at::kLong : at::kFloat);
  EXPECT_EQ(scheduler_->sigmas().scalar_type(), at::kFloat);
  EXPECT_EQ(scheduler_->sigmas()[4].item<float>(), 0.0f);
}

TEST_P(FlowSchedulerContractTest, StepChecksIndexSequenceAndTensors) {
  const at::Tensor x = at::randn({1, 4, 2, 4, 4});
  const at::Tensor v = at::randn({1, 4, 2, 4, 4});
  EXPECT_THAT(scheduler_->Step(v, 0, x),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("SetTimesteps")));
  ASSERT_OK(scheduler_->SetTimesteps(3));
  EXPECT_THAT(scheduler_->Step(v, 3, x),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("step_index 3 is outside [0, 3)")));
  EXPECT_THAT(scheduler_->Step(v, -1, x), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(scheduler_->Step(v.slice(2, 0, 1), 0, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one shape")));
  EXPECT_THAT(scheduler_->Step(v.to(at::kLong), 0, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("floating-point")));
  EXPECT_THAT(scheduler_->Step(at::Tensor(), 0, x), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(scheduler_->Step(v.flatten(), 0, x.flatten()),
              StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_OK_AND_ASSIGN(const at::Tensor x1, scheduler_->Step(v, 0, x));
  EXPECT_THAT(scheduler_->Step(v, 0, x1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("next must be 1")));
  EXPECT_THAT(scheduler_->Step(v, 2, x1), StatusIs(absl::StatusCode::kFailedPrecondition));
  if (GetParam()) {
    // The multistep history fixes the shape for the rest of the run.
    EXPECT_THAT(scheduler_->Step(v.slice(2, 0, 1), 1, x1.slice(2, 0, 1)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("previous step")));
  }
  // Errors leave the state as it was: the run continues at step 1.
  EXPECT_OK(scheduler_->Step(v, 1, x1));
}

TEST_P(FlowSchedulerContractTest, ResetRepeatsARunExactly) {
  ASSERT_OK(scheduler_->SetTimesteps(5));
  const at::Tensor x0 = at::randn({2, 4, 1, 4, 4});
  std::vector<at::Tensor> outputs;
  for (int k = 0; k < 5; ++k) outputs.push_back(at::randn({2, 4, 1, 4, 4}));
  std::vector<at::Tensor> runs[2];
  for (auto& run : runs) {
    scheduler_->Reset();
    at::Tensor x = x0;
    for (int k = 0; k < 5; ++k) {
      ASSERT_OK_AND_ASSIGN(x, scheduler_->Step(outputs[k], k, x));
      run.push_back(x);
    }
  }
  for (int k = 0; k < 5; ++k) EXPECT_TRUE(at::equal(runs[0][k], runs[1][k])) << k;
}

// On a straight flow x(sigma) = (1 - sigma) * data + sigma * noise with the exact velocity
// v = noise - data, both samplers are exact: every step lands on the line. Checked against the
// line evaluated in float64 at the scheduler's float32 sigmas.
TEST_P(FlowSchedulerContractTest, FollowsALinearFlowExactly) {
  constexpr int kSteps = 12;
  ASSERT_OK(scheduler_->SetTimesteps(kSteps));
  const at::Tensor data = at::randn({1, 4, 3, 8, 8}, at::kDouble);
  const at::Tensor noise = at::randn({1, 4, 3, 8, 8}, at::kDouble);
  const at::Tensor sigmas = scheduler_->sigmas().to(at::kDouble);
  const auto on_line = [&](int k) {
    const double sigma = sigmas[k].item<double>();
    return (1 - sigma) * data + sigma * noise;
  };
  const at::Tensor velocity = (noise - data).to(at::kFloat);
  at::Tensor x = on_line(0).to(at::kFloat);
  double worst = 0;
  for (int k = 0; k < kSteps; ++k) {
    ASSERT_OK_AND_ASSIGN(x, scheduler_->Step(velocity, k, x));
    const at::Tensor expected = on_line(k + 1);
    worst = std::max(worst, ((x.to(at::kDouble) - expected).abs().max()).item<double>());
  }
  ::testing::Test::RecordProperty("linear_flow_max_abs_error", std::to_string(worst));
  // float32 rounding of O(1) values over 12 steps.
  EXPECT_LT(worst, 1e-5);
  EXPECT_TRUE(at::allclose(x.to(at::kDouble), data, 0, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Schedulers, FlowSchedulerContractTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "UniPc" : "FlowMatchEuler";
                         });

}  // namespace
}  // namespace videogen::engine::scheduler
