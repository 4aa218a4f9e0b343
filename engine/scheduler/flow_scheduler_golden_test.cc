// Both schedulers against diffusers 0.42.1 (tests/golden/VERSIONS.json), made from the config
// files tools/golden/fixtures_scheduler.py wrote: timestep/sigma grids, and 10-step trajectories
// with fixed model outputs in float32 and with bf16 model outputs (as WanPipeline passes them).
//
// Tolerances: int64 timesteps exactly; float32 timesteps and sigmas element-wise relative error
// <= 1e-6; trajectories ||x - ref|| / ||ref|| <= 1e-6 per step. The implementation performs the
// same LibTorch operations in the same order, so on the CPU all of these are expected to be 0
// (measured values are recorded as test properties).
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/scheduler/flow_scheduler_factory.h"
#include "engine/weights/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::scheduler {
namespace {

using ::videogen::testing::RelativeError;
using ::videogen::testing::RunfilePath;

constexpr int kTrajectorySteps = 10;
constexpr double kTolerance = 1e-6;

// Max over elements of |value - reference| / |reference| (0 where both are 0).
double MaxElementRelativeError(const at::Tensor& value, const at::Tensor& reference) {
  const at::Tensor v = value.to(at::kDouble);
  const at::Tensor r = reference.to(at::kDouble);
  const at::Tensor diff = (v - r).abs();
  const at::Tensor relative = at::where(diff == 0, at::zeros_like(diff), diff / r.abs());
  return relative.max().item<double>();
}

std::string ConfigDir(const std::string& name) {
  return RunfilePath(name == "unipc" ? "tests/golden/wan_tiny/scheduler"
                                     : "tests/golden/wan_tiny/scheduler_cases/" + name);
}

class FlowSchedulerGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        golden_, Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "scheduler_golden"));
  }

  std::unique_ptr<FlowScheduler> Make(const std::string& name) {
    const absl::StatusOr<FlowSchedulerConfig> config =
        LoadFlowSchedulerConfig(ConfigDir(name) + "/scheduler_config.json");
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<FlowScheduler>> scheduler = CreateFlowScheduler(*config);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    return scheduler.ok() ? *std::move(scheduler) : nullptr;
  }

  // The golden tensor in its stored dtype.
  at::Tensor Golden(const std::string& name) {
    const std::vector<std::string> names = golden_->TensorNames();
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), name)) << name;
    // Load() casts; ask for the dtype each kind of tensor is stored in.
    c10::ScalarType dtype = at::kFloat;
    if (absl::EndsWith(name, ".timesteps") && absl::StartsWith(name, "unipc")) dtype = at::kLong;
    if (absl::StrContains(name, "euler") && absl::StrContains(name, ".bf16.")) {
      dtype = at::kBFloat16;
    }
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, dtype);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : at::Tensor();
  }

  // Runs steps [begin, 10) with the fixture's model outputs cast to `dtype`, from the fixture's
  // float32 sample; returns the sample after each step.
  std::vector<at::Tensor> Run(FlowScheduler& scheduler, c10::ScalarType dtype, int begin = 0) {
    EXPECT_OK(scheduler.SetTimesteps(kTrajectorySteps));
    std::vector<at::Tensor> results;
    at::Tensor sample = Golden("trajectory.sample");
    for (int k = begin; k < kTrajectorySteps; ++k) {
      const at::Tensor output = Golden(absl::StrCat("trajectory.model_output.", k)).to(dtype);
      absl::StatusOr<at::Tensor> next = scheduler.Step(output, k, sample);
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok()) break;
      sample = *next;
      results.push_back(sample);
    }
    return results;
  }

  // Compares a result with its reference: same dtype and shape, relative error within bounds.
  void ExpectClose(const at::Tensor& value, const std::string& reference_name) {
    const at::Tensor reference = Golden(reference_name);
    ASSERT_EQ(value.scalar_type(), reference.scalar_type()) << reference_name;
    ASSERT_EQ(value.sizes(), reference.sizes()) << reference_name;
    const double error = RelativeError(value, reference);
    const double max_abs =
        (value.to(at::kDouble) - reference.to(at::kDouble)).abs().max().item<double>();
    ::testing::Test::RecordProperty(reference_name,
                                    absl::StrCat("rel ", error, " max_abs ", max_abs));
    EXPECT_LE(error, kTolerance) << reference_name << " max abs error " << max_abs;
  }

  std::unique_ptr<Checkpoint> golden_;
};

TEST_F(FlowSchedulerGoldenTest, GridsMatchDiffusers) {
  for (const std::string name :
       {"unipc", "unipc_shift5", "unipc_order1", "unipc_order3", "unipc_order3_bh1",
        "unipc_sigma_min", "unipc_disable_corrector", "euler", "euler_shift5"}) {
    const auto scheduler = Make(name);
    ASSERT_NE(scheduler, nullptr) << name;
    double worst_timestep = 0, worst_sigma = 0;
    for (int n : {1, 2, 10, 50}) {
      SCOPED_TRACE(absl::StrCat(name, " N=", n));
      ASSERT_OK(scheduler->SetTimesteps(n));
      const std::string prefix = absl::StrCat(name, ".n", n);
      const at::Tensor timesteps = Golden(prefix + ".timesteps");
      const at::Tensor sigmas = Golden(prefix + ".sigmas");
      ASSERT_EQ(scheduler->timesteps().scalar_type(), timesteps.scalar_type());
      ASSERT_EQ(scheduler->timesteps().sizes(), timesteps.sizes());
      ASSERT_EQ(scheduler->sigmas().sizes(), sigmas.sizes());
      if (timesteps.scalar_type() == at::kLong) {
        EXPECT_TRUE(at::equal(scheduler->timesteps(), timesteps))
            << scheduler->timesteps() << "\nvs diffusers\n"
            << timesteps;
      } else {
        worst_timestep =
            std::max(worst_timestep, MaxElementRelativeError(scheduler->timesteps(), timesteps));
      }
      worst_sigma = std::max(worst_sigma, MaxElementRelativeError(scheduler->sigmas(), sigmas));
    }
    ::testing::Test::RecordProperty(
        name + ".grid_max_rel_error",
        absl::StrCat("timesteps ", worst_timestep, " sigmas ", worst_sigma));
    EXPECT_LE(worst_timestep, kTolerance) << name;
    EXPECT_LE(worst_sigma, kTolerance) << name;
  }
}

TEST_F(FlowSchedulerGoldenTest, WanGridSanityValues) {
  // wan21.md 2.5/2.6 sanity values (N=50, shift 3).
  const auto unipc = Make("unipc");
  ASSERT_OK(unipc->SetTimesteps(50));
  EXPECT_EQ(unipc->timesteps()[0].item<int64_t>(), 999);
  EXPECT_EQ(unipc->timesteps()[1].item<int64_t>(), 993);
  EXPECT_EQ(unipc->timesteps()[49].item<int64_t>(), 60);
  EXPECT_FLOAT_EQ(unipc->sigmas()[0].item<float>(), 0.99999899f);
  const auto euler = Make("euler");
  ASSERT_OK(euler->SetTimesteps(50));
  EXPECT_EQ(euler->sigmas()[0].item<float>(), 1.0f);
  EXPECT_NEAR(euler->sigmas()[1].item<float>(), 0.993124, 1e-6);
  EXPECT_NEAR(euler->timesteps()[49].item<float>(), 8.9286, 1e-3);
}

TEST_F(FlowSchedulerGoldenTest, UniPcTrajectoriesMatchDiffusers) {
  // Step 0: order 1, no corrector; 1..8: order 2 with the order-(k-1) corrector; 9: order 1
  // (lower_order_final) onto sigma = 0, which returns the x0 prediction.
  for (const auto& [dtype, tag] : {std::pair{at::kFloat, "fp32"}, {at::kBFloat16, "bf16"}}) {
    const auto scheduler = Make("unipc");
    ASSERT_NE(scheduler, nullptr);
    const std::vector<at::Tensor> results = Run(*scheduler, dtype);
    ASSERT_EQ(results.size(), kTrajectorySteps);
    for (int k = 0; k < kTrajectorySteps; ++k) {
      EXPECT_EQ(results[k].scalar_type(), at::kFloat);  // UniPC keeps the sample's dtype.
      ExpectClose(results[k], absl::StrCat("unipc.", tag, ".step", k));
    }
  }
}

TEST_F(FlowSchedulerGoldenTest, EulerTrajectoriesMatchDiffusers) {
  const auto scheduler = Make("euler");
  ASSERT_NE(scheduler, nullptr);
  const std::vector<at::Tensor> bf16 = Run(*scheduler, at::kBFloat16);
  ASSERT_EQ(bf16.size(), kTrajectorySteps);
  for (int k = 0; k < kTrajectorySteps; ++k) {
    // The latents take model_output's dtype from the first step on.
    EXPECT_EQ(bf16[k].scalar_type(), at::kBFloat16);
    ExpectClose(bf16[k], absl::StrCat("euler.bf16.step", k));
  }
  const std::vector<at::Tensor> fp32 = Run(*scheduler, at::kFloat);
  ASSERT_EQ(fp32.size(), kTrajectorySteps);
  ExpectClose(fp32.back(), "euler.fp32.final");
}

TEST_F(FlowSchedulerGoldenTest, OtherConfigurationsMatchDiffusers) {
  const struct {
    const char* name;
    c10::ScalarType dtype;
    const char* tag;
  } cases[] = {
      {"unipc_shift5", at::kBFloat16, "bf16"},
      {"euler_shift5", at::kBFloat16, "bf16"},
      {"unipc_order1", at::kFloat, "fp32"},
      {"unipc_order3", at::kFloat, "fp32"},
      {"unipc_order3_bh1", at::kFloat, "fp32"},
      {"unipc_sigma_min", at::kFloat, "fp32"},
      {"unipc_disable_corrector", at::kFloat, "fp32"},
  };
  for (const auto& c : cases) {
    const auto scheduler = Make(c.name);
    ASSERT_NE(scheduler, nullptr) << c.name;
    const std::vector<at::Tensor> results = Run(*scheduler, c.dtype);
    ASSERT_EQ(results.size(), kTrajectorySteps) << c.name;
    ExpectClose(results.back(), absl::StrCat(c.name, ".", c.tag, ".final"));
  }
}

TEST_F(FlowSchedulerGoldenTest, RunsStartingLaterMatchDiffusersBeginIndex) {
  for (const std::string name : {"unipc", "euler"}) {
    const auto scheduler = Make(name);
    ASSERT_NE(scheduler, nullptr) << name;
    const std::vector<at::Tensor> results = Run(*scheduler, at::kFloat, /*begin=*/3);
    ASSERT_EQ(results.size(), kTrajectorySteps - 3) << name;
    ExpectClose(results.back(), name + ".fp32.begin3.final");
  }
}

}  // namespace
}  // namespace videogen::engine::scheduler
