// Test helpers for acceleration policies: the tiny golden Wan transformer (2 blocks) on the CPU in
// float32, and a policy's run along a sampler-like trajectory with every step's output next to
// the dense model's for the same input.
#ifndef VIDEOGEN_ENGINE_ACCEL_POLICY_TEST_UTIL_H_
#define VIDEOGEN_ENGINE_ACCEL_POLICY_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "c10/core/InferenceMode.h"
#include "engine/accel/policy.h"
#include "engine/accel/work.h"
#include "engine/wan/transformer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::accel::testing {

class TinyWanTest : public ::testing::Test {
 protected:
  // The inputs: 3 x 8 x 8 = 192 tokens after the 1x2x2 patches and 7 text tokens (width 24).
  static constexpr int64_t kTinyTokens = 192;
  static constexpr int64_t kTinyTextTokens = 7;

  // One step of Trajectory(): the policy's output, the dense model's for the same input, and
  // the run's FLOPs in that step and cache bytes after it.
  struct Step {
    at::Tensor output, dense;
    double flops = 0;
    int64_t cache_bytes = 0;
  };

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(transformer_,
                         wan::Transformer::Load(
                             ::videogen::testing::RunfilePath("tests/golden/wan_tiny/transformer"),
                             at::kFloat, at::kCPU));
    const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
    latents_ = at::randn({1, 4, 3, 16, 16}, generator, at::kFloat);
    prompt_ = at::randn({1, kTinyTextTokens, 32}, generator, at::kFloat);
    text_ = transformer_->EncodeText(prompt_);
  }

  // `steps` steps of x <- x - v(x, t) / steps over decreasing t from latents_, so that each step
  // has another input and timestep, as in sampling. v is the dense model's, so that every policy
  // sees the same inputs and runs of different settings can be compared step by step. An error
  // of the policy throws absl::BadStatusOrAccess, which fails the test.
  std::vector<Step> Trajectory(const Policy& policy, int steps) {
    c10::InferenceMode inference;
    const std::unique_ptr<BranchRun> run = policy.Start(*transformer_, steps).value();
    std::vector<Step> result;
    at::Tensor x = latents_;
    for (int step = 0; step < steps; ++step) {
      const at::Tensor t = at::full({1}, 999 - 40 * step, at::kLong);
      const double flops_before = run->flops();
      const at::Tensor v = run->Forward(x, t, text_).value();
      const at::Tensor dense = transformer_->Forward(x, t, text_);
      result.push_back({v, dense, run->flops() - flops_before, run->CacheBytes()});
      x = x - dense / steps;
    }
    EXPECT_EQ(run->steps_done(), steps);
    EXPECT_DOUBLE_EQ(run->dense_flops(), steps * DenseFlops());
    return result;
  }

  // The FLOPs of a forward whose every block computes `work`, and of a dense forward.
  double ForwardFlops(const BlockWork& work) const {
    return transformer_->config().num_layers *
           BlockFlops(transformer_->config(), kTinyTextTokens, work);
  }
  double DenseFlops() const { return ForwardFlops(DenseBlockWork(kTinyTokens)); }
  // Bytes of `branches` [1, N, D] float32 tensors in every block.
  int64_t CachedBranchBytes(int branches) const {
    return transformer_->config().num_layers * branches * kTinyTokens *
           transformer_->config().dim() * 4;
  }

  // The checks every run makes (StepRun): INVALID_ARGUMENT for a job of no steps, a batch of 2
  // or a step past the job's end; FAILED_PRECONDITION for a token grid that changes.
  void ExpectRunRejectsMisuse(const Policy& policy) {
    using ::testing::HasSubstr;
    using ::videogen::testing::StatusIs;
    EXPECT_THAT(policy.Start(*transformer_, 0),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 0")));
    c10::InferenceMode inference;
    ASSERT_OK_AND_ASSIGN(const std::unique_ptr<BranchRun> run, policy.Start(*transformer_, 2));
    const at::Tensor t = at::full({1}, 500, at::kLong);
    EXPECT_THAT(run->Forward(latents_.expand({2, -1, -1, -1, -1}), t.expand({2}),
                             transformer_->EncodeText(prompt_.expand({2, -1, -1}))),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch of 2")));
    ASSERT_OK(run->Forward(latents_, t, text_).status());
    EXPECT_THAT(run->Forward(latents_.slice(3, 0, 8), t, text_),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("192 to 96 tokens")));
    ASSERT_OK(run->Forward(latents_, t, text_).status());
    EXPECT_THAT(run->Forward(latents_, t, text_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 steps, all run")));
    EXPECT_EQ(run->steps_done(), 2);
  }

  std::unique_ptr<wan::Transformer> transformer_;
  at::Tensor latents_, prompt_;
  wan::Transformer::TextContext text_;
};

}  // namespace videogen::engine::accel::testing

#endif  // VIDEOGEN_ENGINE_ACCEL_POLICY_TEST_UTIL_H_
