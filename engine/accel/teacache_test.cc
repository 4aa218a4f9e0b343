// TeaCache on the tiny golden Wan transformer (2 blocks, float32, CPU): threshold 0 is the dense
// model bit for bit; which steps are computed follows the accumulated rescaled change (checked
// against changes measured independently from the transformer's stages); skipped steps add the
// last computed step's residual; the changes recorded in a change log are the ones calibration
// needs, the log collects pairs from many threads, and the polynomial fit recovers known
// coefficients.
#include "engine/accel/teacache.h"

#include <cmath>
#include <limits>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "c10/core/InferenceMode.h"
#include "engine/accel/policy_test_util.h"
#include "engine/accel/work.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::accel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using Pairs = std::vector<std::pair<double, double>>;

constexpr int kSteps = 8;

class TeaCacheTest : public testing::TinyWanTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TinyWanTest::SetUp());
    drift_ = at::randn({1, 4, 3, 16, 16}, at::make_generator<at::CPUGeneratorImpl>(5), at::kFloat);
  }

  // A step's inputs: latents moving along a fixed direction under a falling timestep, as a
  // sampler feeds them, but independent of the outputs so that every run sees the same inputs.
  at::Tensor Latents(int step) const { return latents_ + 0.1 * step * drift_; }
  static at::Tensor Timestep(int step) { return at::full({1}, 999 - 100 * step, at::kLong); }
  at::Tensor Dense(int step) const {
    return transformer_->Forward(Latents(step), Timestep(step), text_);
  }
  // A step's embedded tokens and conditioning.
  struct Stages {
    wan::Transformer::Tokens tokens;
    wan::Transformer::Conditioning conditioning;
  };
  Stages StagesOf(int step) const {
    return {transformer_->Embed(Latents(step)), transformer_->Condition(Timestep(step), text_)};
  }
  // Step `step` with the blocks replaced by their residual at step `computed_step`.
  at::Tensor SkippedReference(int step, int computed_step) const {
    const Stages computed = StagesOf(computed_step);
    at::Tensor hidden = computed.tokens.hidden;
    for (int i = 0; i < transformer_->config().num_layers; ++i) {
      hidden = transformer_->Block(i, hidden, computed.conditioning, computed.tokens.rope);
    }
    const Stages skipped = StagesOf(step);
    return transformer_->Head(skipped.tokens.hidden + (hidden - computed.tokens.hidden),
                              skipped.conditioning.temb, skipped.tokens.grid);
  }
  // The relative L1 change of block 0's modulated input from step - 1 to `step`.
  double InputChange(int step) const {
    const Stages before = StagesOf(step - 1), after = StagesOf(step);
    const at::Tensor previous =
        transformer_->ModulatedInput(0, before.tokens.hidden, before.conditioning);
    const at::Tensor current =
        transformer_->ModulatedInput(0, after.tokens.hidden, after.conditioning);
    return ((current - previous).abs().sum() / previous.abs().sum()).item<double>();
  }

  // Valid settings only: an error throws absl::BadStatusOrAccess, which fails the test.
  static std::unique_ptr<TeaCachePolicy> Policy(const TeaCacheOptions& options) {
    return TeaCachePolicy::Create(options).value();
  }

  // Runs `policy` over kSteps steps and returns the steps it computed (those that did work),
  // checking each step's output: a computed step's is the dense model's, a skipped step's is the
  // reference with the last computed step's residual.
  std::vector<int> ComputedSteps(const TeaCachePolicy& policy) {
    c10::InferenceMode inference;
    absl::StatusOr<std::unique_ptr<BranchRun>> run = policy.Start(*transformer_, kSteps);
    EXPECT_TRUE(run.ok()) << run.status();
    std::vector<int> computed;
    for (int step = 0; step < kSteps; ++step) {
      SCOPED_TRACE(::testing::Message() << "step " << step);
      const double flops_before = (*run)->flops();
      absl::StatusOr<at::Tensor> out = (*run)->Forward(Latents(step), Timestep(step), text_);
      EXPECT_TRUE(out.ok()) << out.status();
      const double work = (*run)->flops() - flops_before;
      if (work > 0) {
        EXPECT_DOUBLE_EQ(work, DenseFlops());
        EXPECT_TRUE(at::equal(*out, Dense(step)));
        computed.push_back(step);
      } else if (!computed.empty()) {  // (The callers' patterns check that step 0 computes.)
        EXPECT_TRUE(at::equal(*out, SkippedReference(step, computed.back())));
        EXPECT_FALSE(at::allclose(*out, Dense(step)));
      }
    }
    EXPECT_DOUBLE_EQ((*run)->dense_flops(), kSteps * DenseFlops());
    EXPECT_DOUBLE_EQ((*run)->flops(), computed.size() * DenseFlops());
    return computed;
  }

  at::Tensor drift_;  // The direction the latents move in, step by step.
};

TEST_F(TeaCacheTest, ThresholdZeroIsTheDenseModelExactly) {
  // Also with changes measured (into a change log) and rescaled to a negative estimate, which
  // counts as no change rather than as a credit against the threshold.
  for (const bool record : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "change log " << record);
    TeaCacheOptions options;
    options.threshold = 0;
    options.coefficients = {-1.0};
    if (record) options.change_log = std::make_shared<TeaCacheChangeLog>();
    const auto policy = Policy(options);
    // The log is not a setting.
    EXPECT_EQ(policy->Describe(), "teacache(threshold=0,coefficients=[-1])");
    EXPECT_THAT(ComputedSteps(*policy), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
    if (record) {
      EXPECT_EQ(options.change_log->Pairs().size(), kSteps - 1);
    }
  }
  c10::InferenceMode inference;
  TeaCacheOptions options;
  options.threshold = 0;
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<BranchRun> run,
                       Policy(options)->Start(*transformer_, 2));
  ASSERT_OK(run->Forward(Latents(0), Timestep(0), text_).status());
  EXPECT_EQ(run->CacheBytes(), 0) << "nothing is tracked or kept";
}

TEST_F(TeaCacheTest, UnchangedInputsComputeOnlyTheFirstAndLastStep) {
  c10::InferenceMode inference;
  TeaCacheOptions options;
  options.threshold = 0.5;
  const auto policy = Policy(options);
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<BranchRun> run, policy->Start(*transformer_, 5));
  // x = 0 at every step, so p(x) = 0 accumulates nothing.
  std::vector<at::Tensor> outputs;
  for (int step = 0; step < 5; ++step) {
    ASSERT_OK_AND_ASSIGN(outputs.emplace_back(), run->Forward(Latents(0), Timestep(0), text_));
  }
  EXPECT_DOUBLE_EQ(run->flops(), 2 * DenseFlops());
  EXPECT_TRUE(at::equal(outputs[0], Dense(0)));
  EXPECT_TRUE(at::equal(outputs[4], Dense(0)));
  for (int step = 1; step < 4; ++step) {
    EXPECT_TRUE(at::equal(outputs[step], SkippedReference(0, 0))) << "step " << step;
  }
  // The last step frees the residual (no later step can use it): only m_{t−1} ([1, N, D]
  // float32) is left.
  EXPECT_EQ(run->CacheBytes(), kTinyTokens * transformer_->config().dim() * 4);
}

TEST_F(TeaCacheTest, ConstantEstimatesComputeEveryThirdStep) {
  // p = 1 whatever the input: the accumulation reaches 2.5 at every third step after a
  // computed one, and the last step is computed anyway.
  TeaCacheOptions options;
  options.threshold = 2.5;
  options.coefficients = {1.0};
  EXPECT_THAT(ComputedSteps(*Policy(options)), ElementsAre(0, 3, 6, 7));
}

TEST_F(TeaCacheTest, AccumulatesTheRescaledInputChange) {
  // The changes measured independently, and the steps the rule computes for them.
  std::vector<double> changes(kSteps, 0.0);
  {
    c10::InferenceMode inference;
    for (int step = 1; step < kSteps; ++step) changes[step] = InputChange(step);
  }
  // p(x) = 2x, and a threshold between two and three steps' worth of change from step 1.
  TeaCacheOptions options;
  options.coefficients = {2.0, 0.0};
  options.threshold = 2 * (changes[1] + changes[2]) + changes[3];
  std::vector<int> expected = {0};
  double accumulated = 0;
  for (int step = 1; step < kSteps; ++step) {
    accumulated += 2 * changes[step];
    // The run measures the changes in float32 too, but not in this order: keep off the edge.
    ASSERT_GT(std::abs(accumulated - options.threshold), 1e-4 * options.threshold)
        << "step " << step;
    if (step + 1 == kSteps || accumulated >= options.threshold) {
      expected.push_back(step);
      accumulated = 0;
    }
  }
  ASSERT_GT(expected.size(), 2u) << "the threshold should fall between the ends";
  EXPECT_EQ(ComputedSteps(*Policy(options)), expected);
}

TEST_F(TeaCacheTest, RecordsTheChangesCalibrationNeeds) {
  c10::InferenceMode inference;
  TeaCacheOptions options;
  options.threshold = 0;
  options.change_log = std::make_shared<TeaCacheChangeLog>();
  const auto policy = Policy(options);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BranchRun> run, policy->Start(*transformer_, kSteps));
  std::vector<at::Tensor> outputs;
  for (int step = 0; step < kSteps; ++step) {
    ASSERT_OK_AND_ASSIGN(outputs.emplace_back(),
                         run->Forward(Latents(step), Timestep(step), text_));
    EXPECT_TRUE(at::equal(outputs.back(), Dense(step))) << "recording changes no output";
    // Pairs are appended as the run goes: from the second step on, one per step.
    EXPECT_EQ(options.change_log->Pairs().size(), step);
  }
  const Pairs pairs = options.change_log->Pairs();
  ASSERT_EQ(pairs.size(), kSteps - 1);
  for (int step = 1; step < kSteps; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const double output_change =
        ((outputs[step] - outputs[step - 1]).abs().sum() / outputs[step - 1].abs().sum())
            .item<double>();
    EXPECT_NEAR(pairs[step - 1].first, InputChange(step), 1e-5 * InputChange(step));
    EXPECT_NEAR(pairs[step - 1].second, output_change, 1e-5 * output_change);
  }
  // Previous input and output, both [1, N, D]-sized float32 (the output has C·pt·ph·pw = 16
  // values per token here).
  EXPECT_EQ(run->CacheBytes(), kTinyTokens * (transformer_->config().dim() + 16) * 4);

  // The run keeps the log, not the policy; a second run appends its own pairs after the first's,
  // the same ones for the same inputs.
  std::unique_ptr<BranchRun> second = policy->Start(*transformer_, kSteps).value();
  for (int step = 0; step < kSteps; ++step) {
    ASSERT_OK(second->Forward(Latents(step), Timestep(step), text_).status());
  }
  const Pairs both = options.change_log->Pairs();
  ASSERT_EQ(both.size(), 2 * (kSteps - 1));
  EXPECT_EQ(Pairs(both.begin() + (kSteps - 1), both.end()), pairs);

  // The recorded pairs are what the fit takes.
  std::vector<double> x, y;
  for (const auto& [input_change, output_change] : pairs) {
    x.push_back(input_change);
    y.push_back(output_change);
  }
  EXPECT_OK(FitRescaleCoefficients(x, y, 1).status());
}

TEST(TeaCacheChangeLogTest, CollectsPairsFromManyThreads) {
  TeaCacheChangeLog log;
  EXPECT_TRUE(log.Pairs().empty());
  constexpr int kThreads = 4, kPairsEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPairsEach; ++i) log.Add(t, i);
    });
  }
  for (std::thread& thread : threads) thread.join();
  Pairs pairs = log.Pairs();
  ASSERT_EQ(pairs.size(), kThreads * kPairsEach);
  // Every pair once, and each thread's in the order it added them.
  std::vector<int> next(kThreads, 0);
  for (const auto& [thread, i] : pairs) EXPECT_EQ(i, next[static_cast<int>(thread)]++);
  EXPECT_THAT(next, ::testing::Each(kPairsEach));
}

TEST_F(TeaCacheTest, RejectsInvalidOptions) {
  auto rejects = [&](TeaCacheOptions options, const char* message) {
    EXPECT_THAT(TeaCachePolicy::Create(options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)));
  };
  TeaCacheOptions options;
  options.threshold = -0.5;
  rejects(options, "threshold -0.5 is not a finite number >= 0");
  options.threshold = std::numeric_limits<double>::quiet_NaN();
  rejects(options, "threshold nan");
  options = {};
  options.coefficients.clear();
  rejects(options, "no coefficients");
  options.coefficients = {1.0, std::numeric_limits<double>::infinity()};
  rejects(options, "coefficient 1 is inf");
}

TEST_F(TeaCacheTest, DescribesItsSettings) {
  EXPECT_EQ(Policy({})->Describe(), "teacache(threshold=0.1,coefficients=[1,0])");
  // Numbers read back exactly, e.g. fitted coefficients with all their digits.
  TeaCacheOptions options;
  options.threshold = 0.1 + 0.2;
  options.coefficients = {1.0 / 3, -1e-5, 0.0};
  EXPECT_EQ(Policy(options)->Describe(),
            "teacache(threshold=0.30000000000000004,coefficients=[0.3333333333333333,-1e-05,0])");
}

TEST_F(TeaCacheTest, RunRejectsMisuse) { ExpectRunRejectsMisuse(*Policy({})); }

TEST(FitRescaleCoefficientsTest, RecoversAKnownPolynomial) {
  // p(x) = 40x³ − 12x² + 1.5x + 0.02 sampled over the range relative changes take.
  const std::vector<double> truth = {40.0, -12.0, 1.5, 0.02};
  std::vector<double> x, y;
  for (int i = 0; i < 30; ++i) {
    x.push_back(0.01 + 0.01 * i);
    double value = 0;
    for (const double c : truth) value = value * x.back() + c;
    y.push_back(value);
  }
  ASSERT_OK_AND_ASSIGN(const std::vector<double> cubic, FitRescaleCoefficients(x, y, 3));
  ASSERT_EQ(cubic.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(cubic[i], truth[i], 1e-8 * std::abs(truth[i]));
  // A higher degree finds the same polynomial, its extra leading coefficient ~0.
  ASSERT_OK_AND_ASSIGN(const std::vector<double> quartic, FitRescaleCoefficients(x, y, 4));
  ASSERT_EQ(quartic.size(), 5u);
  EXPECT_NEAR(quartic[0], 0.0, 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(quartic[i + 1], truth[i], 1e-6 * std::abs(truth[i]));
  // A line through noisy-free points of a line, as the least-squares solution of its samples.
  ASSERT_OK_AND_ASSIGN(const std::vector<double> line,
                       FitRescaleCoefficients({0.0, 1.0, 2.0}, {1.0, 4.0, 7.0}, 1));
  EXPECT_NEAR(line[0], 3.0, 1e-12);
  EXPECT_NEAR(line[1], 1.0, 1e-12);
}

TEST(FitRescaleCoefficientsTest, RejectsUndeterminedOrBadInput) {
  EXPECT_THAT(FitRescaleCoefficients({0.1, 0.2}, {0.1}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("2 input changes but 1 output changes")));
  EXPECT_THAT(FitRescaleCoefficients({0.1, 0.2}, {0.1, 0.2}, -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("degree -1 is negative")));
  EXPECT_THAT(FitRescaleCoefficients({0.1, 0.2}, {0.1, 0.2}, 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 3 samples, got 2")));
  EXPECT_THAT(FitRescaleCoefficients({0.1, 0.1, 0.2, 0.2}, {0.1, 0.1, 0.3, 0.3}, 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("determine only 2 of the 3 coefficients")));
  EXPECT_THAT(FitRescaleCoefficients({0.1, std::nan("")}, {0.1, 0.2}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sample 1 (nan, 0.2)")));
}

}  // namespace
}  // namespace videogen::engine::accel
