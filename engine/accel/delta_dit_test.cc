// Δ-DiT on the tiny golden Wan transformer (2 blocks, float32, CPU): with reuse off it is the
// dense model bit for bit; with reuse on, full steps are the dense model, partial steps add the
// cached range's residual from the phase's last full step (checked against a reference written
// from the transformer's stages), and the FLOPs follow the step pattern. Settings that need more
// blocks than a model has are rejected when a run starts on that model.
#include "engine/accel/delta_dit.h"

#include <memory>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "c10/core/InferenceMode.h"
#include "engine/accel/policy_test_util.h"
#include "engine/accel/work.h"
#include "engine/weights/checkpoint.h"
#include "engine/weights/testing/random_weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::accel {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

constexpr int kSteps = 10;

class DeltaDitTest : public testing::TinyWanTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TinyWanTest::SetUp());
    drift_ = at::randn({1, 4, 3, 16, 16}, at::make_generator<at::CPUGeneratorImpl>(11), at::kFloat);
  }

  // A step's inputs: latents moving along a fixed direction under a falling timestep, as a
  // sampler feeds them, but independent of the outputs so that every run sees the same inputs.
  at::Tensor Latents(int step) const { return latents_ + 0.1 * step * drift_; }
  static at::Tensor Timestep(int step) { return at::full({1}, 999 - 90 * step, at::kLong); }
  at::Tensor Dense(int step) const {
    return transformer_->Forward(Latents(step), Timestep(step), text_);
  }

  // The hidden states of step `step`'s dense forward: [0] the embedding, [i + 1] block i's output.
  std::vector<at::Tensor> BlockOutputs(int step) const {
    const wan::Transformer::Tokens tokens = transformer_->Embed(Latents(step));
    const wan::Transformer::Conditioning conditioning =
        transformer_->Condition(Timestep(step), text_);
    std::vector<at::Tensor> outputs = {tokens.hidden};
    for (int i = 0; i < transformer_->config().num_layers; ++i) {
      outputs.push_back(transformer_->Block(i, outputs.back(), conditioning, tokens.rope));
    }
    return outputs;
  }
  // Step `step` with the blocks of `range` replaced by their residual at step `full_step`.
  at::Tensor PartialReference(int step, int full_step, DeltaDitPolicy::BlockRange range) const {
    const std::vector<at::Tensor> full = BlockOutputs(full_step);
    const at::Tensor residual = full[range.end] - full[range.begin];
    const wan::Transformer::Tokens tokens = transformer_->Embed(Latents(step));
    const wan::Transformer::Conditioning conditioning =
        transformer_->Condition(Timestep(step), text_);
    at::Tensor hidden = tokens.hidden;
    for (int i = 0; i < transformer_->config().num_layers; ++i) {
      if (i == range.begin) hidden = hidden + residual;
      if (i < range.begin || i >= range.end) {
        hidden = transformer_->Block(i, hidden, conditioning, tokens.rope);
      }
    }
    return transformer_->Head(hidden, conditioning.temb, tokens.grid);
  }

  // Valid settings only: an error throws absl::BadStatusOrAccess, which fails the test.
  static std::unique_ptr<DeltaDitPolicy> Policy(const DeltaDitOptions& options) {
    return DeltaDitPolicy::Create(options).value();
  }
  int Layers() const { return static_cast<int>(transformer_->config().num_layers); }
  double DenseBlock() const {
    return BlockFlops(transformer_->config(), kTinyTextTokens, DenseBlockWork(kTinyTokens));
  }

  at::Tensor drift_;  // The direction the latents move in, step by step.
};

// The scaled-down schedule most tests use: window [2, 9) split at 6, interval 3, one block.
DeltaDitOptions SmallOptions() {
  DeltaDitOptions options;
  options.switch_step = 6;
  options.interval = 3;
  options.first_partial_step = 2;
  options.end_partial_step = 9;
  options.cached_blocks = 1;
  return options;
}

TEST_F(DeltaDitTest, SeedSettingsForWanGiveTheDocumentedSchedule) {
  // The defaults, settings alone: the schedule needs no model.
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<DeltaDitPolicy> policy, DeltaDitPolicy::Create());
  EXPECT_EQ(policy->Describe(), "delta_dit(switch=25,interval=3,start=5,end=45,blocks=10)");
  std::vector<int> full;
  for (int step = 0; step < 50; ++step) {
    if (policy->IsFullStep(step)) full.push_back(step);
  }
  EXPECT_THAT(full, ::testing::ElementsAre(0, 1, 2, 3, 4, 5, 8, 11, 14, 17, 20, 23, 25, 28, 31, 34,
                                           37, 40, 43, 45, 46, 47, 48, 49));
  EXPECT_EQ(policy->CachedRange(24, 30).begin, 20);
  EXPECT_EQ(policy->CachedRange(24, 30).end, 30);
  EXPECT_EQ(policy->CachedRange(25, 30).begin, 0);
  EXPECT_EQ(policy->CachedRange(25, 30).end, 10);

  // The same policy starts runs on a 30-block model (random weights; only its depth matters
  // here) but not on the 2-block one, which has fewer blocks than it caches.
  wan::TransformerConfig config = transformer_->config();
  config.num_layers = 30;
  LoadOptions load;
  load.keep_in_fp32_modules = wan::Transformer::KeepInFp32Modules();
  ASSERT_OK_AND_ASSIGN(
      const std::unique_ptr<wan::Transformer> deep,
      wan::Transformer::Create(config,
                               ::videogen::engine::testing::RandomWeights(
                                   wan::Transformer::Parameters(config), load, at::kCPU),
                               at::kCPU));
  EXPECT_OK(policy->Start(*deep, 50).status());
  EXPECT_THAT(policy->Start(*deep, 40),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("end_partial_step 45 is past the run's 40")));
  EXPECT_THAT(policy->Start(*transformer_, 50),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cached_blocks 10 is more than the model's 2 blocks")));
}

TEST_F(DeltaDitTest, DescribesItsSettings) {
  DeltaDitOptions options = SmallOptions();
  EXPECT_EQ(Policy(options)->Describe(), "delta_dit(switch=6,interval=3,start=2,end=9,blocks=1)");
  options.first_partial_step = options.end_partial_step = 0;
  options.switch_step = 100000;
  EXPECT_EQ(Policy(options)->Describe(),
            "delta_dit(switch=100000,interval=3,start=0,end=0,blocks=1)");
}

TEST_F(DeltaDitTest, ReuseOffIsTheDenseModelExactly) {
  c10::InferenceMode inference;
  DeltaDitOptions every_step = SmallOptions();
  every_step.interval = 1;
  DeltaDitOptions empty_window = SmallOptions();
  empty_window.first_partial_step = empty_window.end_partial_step = 4;
  DeltaDitOptions all_blocks_every_step = every_step;
  all_blocks_every_step.cached_blocks = 2;
  for (const DeltaDitOptions& options : {every_step, empty_window, all_blocks_every_step}) {
    const auto policy = Policy(options);
    SCOPED_TRACE(policy->Describe());
    ASSERT_OK_AND_ASSIGN(const std::unique_ptr<BranchRun> run,
                         policy->Start(*transformer_, kSteps));
    for (int step = 0; step < kSteps; ++step) {
      EXPECT_TRUE(policy->IsFullStep(step)) << "step " << step;
      ASSERT_OK_AND_ASSIGN(const at::Tensor out,
                           run->Forward(Latents(step), Timestep(step), text_));
      EXPECT_TRUE(at::equal(out, Dense(step))) << "step " << step;
      EXPECT_EQ(run->CacheBytes(), 0) << "no partial step follows, nothing is kept";
    }
    EXPECT_EQ(run->steps_done(), kSteps);
    EXPECT_DOUBLE_EQ(run->flops(), run->dense_flops());
  }
}

TEST_F(DeltaDitTest, PartialStepsReuseTheirRangesResidualFromThePhasesFullStep) {
  c10::InferenceMode inference;
  const auto policy = Policy(SmallOptions());
  // Phase [2, 6) caches the back block (1) and phase [6, 9) the front block (0); each starts
  // with a full step and has one every 3 steps (counting from 2 throughout, 6 would be partial
  // and 8 full).
  const std::vector<bool> full = {true, true, true, false, false, true, true, false, false, true};
  for (int step = 0; step < kSteps; ++step) {
    EXPECT_EQ(policy->IsFullStep(step), full[step]) << "step " << step;
    const DeltaDitPolicy::BlockRange range = policy->CachedRange(step, Layers());
    EXPECT_EQ(range.begin, step < 6 ? 1 : 0) << "step " << step;
    EXPECT_EQ(range.end, range.begin + 1) << "step " << step;
  }

  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<BranchRun> run, policy->Start(*transformer_, kSteps));
  int last_full = -1;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const double flops_before = run->flops();
    ASSERT_OK_AND_ASSIGN(const at::Tensor out, run->Forward(Latents(step), Timestep(step), text_));
    const at::Tensor dense = Dense(step);
    if (full[step]) {
      last_full = step;
      EXPECT_TRUE(at::equal(out, dense));
      EXPECT_DOUBLE_EQ(run->flops() - flops_before, 2 * DenseBlock());
    } else {
      EXPECT_TRUE(
          at::equal(out, PartialReference(step, last_full, policy->CachedRange(step, Layers()))));
      EXPECT_FALSE(at::allclose(out, dense));
      EXPECT_DOUBLE_EQ(run->flops() - flops_before, DenseBlock());
    }
    // A residual ([1, N, D] float32) is held from a full step followed by a partial one, and
    // freed at the next full step followed by a full one.
    const bool holds = (step >= 2 && step <= 4) || (step >= 6 && step <= 8);
    EXPECT_EQ(run->CacheBytes(), holds ? kTinyTokens * transformer_->config().dim() * 4 : 0);
  }
  // 6 full steps of 2 blocks, 4 partial steps of 1.
  EXPECT_DOUBLE_EQ(run->flops(), (6 * 2 + 4 * 1) * DenseBlock());
  EXPECT_DOUBLE_EQ(run->dense_flops(), kSteps * DenseFlops());
}

TEST_F(DeltaDitTest, RejectsInvalidOptions) {
  auto rejects = [&](DeltaDitOptions options, const char* message) {
    EXPECT_THAT(DeltaDitPolicy::Create(options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)));
  };
  DeltaDitOptions options = SmallOptions();
  options.cached_blocks = 0;
  rejects(options, "cached_blocks 0 is below 1");
  options = SmallOptions();
  options.interval = 0;
  rejects(options, "interval 0 is below 1");
  options = SmallOptions();
  options.switch_step = -1;
  rejects(options, "switch_step -1 is negative");
  options = SmallOptions();
  options.first_partial_step = -2;
  rejects(options, "first_partial_step -2 is negative");
  options = SmallOptions();
  options.end_partial_step = 1;
  rejects(options, "end_partial_step 1 is before first_partial_step 2");
}

TEST_F(DeltaDitTest, StartRejectsSettingsThatDoNotFitTheJobOrTheModel) {
  // More cached blocks than the model has: valid settings, but not for this model.
  DeltaDitOptions too_deep = SmallOptions();
  too_deep.cached_blocks = 3;
  EXPECT_THAT(Policy(too_deep)->Start(*transformer_, kSteps),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cached_blocks 3 is more than the model's 2 blocks")));
  too_deep.cached_blocks = 2;
  EXPECT_OK(Policy(too_deep)->Start(*transformer_, kSteps).status());

  const auto policy = Policy(SmallOptions());
  EXPECT_THAT(policy->Start(*transformer_, 8),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("end_partial_step 9 is past the run's 8")));
  EXPECT_OK(policy->Start(*transformer_, 9).status());
  DeltaDitOptions late_switch = SmallOptions();
  late_switch.switch_step = 10;
  EXPECT_THAT(Policy(late_switch)->Start(*transformer_, 9),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("switch_step 10 is past the run's 9")));
  EXPECT_OK(Policy(late_switch)->Start(*transformer_, 10).status());
}

TEST_F(DeltaDitTest, RunRejectsMisuse) {
  // Two steps: a full one, then a partial one, so that the checks cover both kinds of step.
  DeltaDitOptions options = SmallOptions();
  options.switch_step = options.end_partial_step = 2;
  options.first_partial_step = 0;
  const auto policy = Policy(options);
  ASSERT_TRUE(policy->IsFullStep(0));
  ASSERT_FALSE(policy->IsFullStep(1));
  ExpectRunRejectsMisuse(*policy);
}

}  // namespace
}  // namespace videogen::engine::accel
