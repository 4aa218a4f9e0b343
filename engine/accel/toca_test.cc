// ToCa on the tiny golden Wan transformer: interval 1 is the dense model bit for bit; fresh steps
// are exact and cached steps recompute exactly k rows per block, with the FLOPs and cache that
// implies; the token choice follows staleness, then input norm, then index.
#include "engine/accel/toca.h"

#include <cmath>
#include <memory>
#include <vector>

#include "ATen/ATen.h"
#include "engine/accel/policy_test_util.h"
#include "engine/accel/work.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::accel {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RelativeError;
using ::videogen::testing::StatusIs;

class TocaPolicyTest : public testing::TinyWanTest {
 protected:
  // Valid settings only: an error throws absl::BadStatusOrAccess, which fails the test.
  std::unique_ptr<TocaPolicy> Toca(const TocaOptions& options) {
    return TocaPolicy::Create(options).value();
  }
  // Runs `options` over `steps` steps: fresh steps (step % interval == 0) must be the dense model
  // exactly, cached steps must differ and cost `rows` cross-attention and feed-forward rows per
  // block; the caches (3 branches and the staleness per block) are held only before a cached
  // step.
  void ExpectFreshAndCachedSteps(const TocaOptions& options, int steps, int64_t rows) {
    const std::vector<Step> result = Trajectory(*Toca(options), steps);
    const int64_t state_bytes =
        CachedBranchBytes(3) + transformer_->config().num_layers * kTinyTokens * 4;
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE(::testing::Message() << "step " << step);
      if (step % options.interval == 0) {
        EXPECT_TRUE(at::equal(result[step].output, result[step].dense));
        EXPECT_DOUBLE_EQ(result[step].flops, DenseFlops());
      } else {
        const double error = RelativeError(result[step].output, result[step].dense);
        EXPECT_GT(error, 0.0);
        EXPECT_LT(error, 0.5);
        EXPECT_DOUBLE_EQ(result[step].flops, ForwardFlops({0, 0, rows, rows}));
      }
      const bool next_cached = step + 1 < steps && (step + 1) % options.interval != 0;
      EXPECT_EQ(result[step].cache_bytes, next_cached ? state_bytes : 0);
    }
  }
};

TEST_F(TocaPolicyTest, IntervalOneIsTheDenseModelExactly) {
  for (const double reuse : {0.8, 0.85}) {
    SCOPED_TRACE(::testing::Message() << "reuse " << reuse);
    const std::vector<Step> steps = Trajectory(*Toca({1, reuse}), 5);
    for (int step = 0; step < 5; ++step) {
      EXPECT_TRUE(at::equal(steps[step].output, steps[step].dense)) << "step " << step;
      EXPECT_DOUBLE_EQ(steps[step].flops, DenseFlops());
      EXPECT_EQ(steps[step].cache_bytes, 0);  // No step is cached.
    }
  }
}

TEST_F(TocaPolicyTest, SeedSettingsRecomputeTheirShareOfRows) {
  // k = ceil((1 − reuse) · 192): 39 rows at 80% reuse, 29 at 85%.
  ExpectFreshAndCachedSteps({2, 0.8}, 6, 39);
  ExpectFreshAndCachedSteps({2, 0.85}, 6, 29);
  // Two cached steps in a row: the second reuses the first's updated caches.
  ExpectFreshAndCachedSteps({3, 0.8}, 7, 39);
}

TEST_F(TocaPolicyTest, ReuseRatioBoundsOnlyTouchTheCrossAttentionAndFeedForward) {
  // 0: every row recomputed, but the self-attention is still broadcast.
  ExpectFreshAndCachedSteps({2, 0.0}, 4, kTinyTokens);
  // 1: all three branches reused whole; the cached step computes nothing.
  ExpectFreshAndCachedSteps({2, 1.0}, 4, 0);
}

TEST_F(TocaPolicyTest, CachedStepsRecomputeOnlyTheSelectedTokens) {
  // At a cached step no branch mixes tokens (the self-attention is broadcast), so a token's
  // output patch changes from the run that reuses everything only if one of the 2 blocks
  // recomputed it: at least k = 39 tokens and at most 2k.
  const std::vector<Step> partial = Trajectory(*Toca({2, 0.8}), 2);
  const std::vector<Step> reused = Trajectory(*Toca({2, 1.0}), 2);
  ASSERT_TRUE(at::equal(partial[0].output, reused[0].output));
  // [1, C, F, H, W] -> per token of the 1x2x2 patches: [C, F, H/2, 2, W/2, 2] -> [F, H/2, W/2].
  const at::Tensor change =
      (partial[1].output - reused[1].output).abs().view({4, 3, 8, 2, 8, 2}).amax({0, 3, 5});
  const int64_t changed = change.gt(1e-6 * reused[1].output.abs().max()).sum().item<int64_t>();
  EXPECT_GE(changed, 39);
  EXPECT_LE(changed, 78);
}

TEST_F(TocaPolicyTest, SelectsTheStalestTokensThenTheLargestInputsThenTheLowestIndices) {
  // Norms 1, 5, 3, 5, 2, 4.
  const at::Tensor input =
      at::tensor({1, 0, 0, 5, 3, 0, 3, 4, 2, 0, 4, 0}, at::kFloat).view({6, 2});
  const at::Tensor staleness = at::tensor({0, 0, 1, 0, 1, 0}, at::kInt);
  auto select = [&](int64_t count) {
    const at::Tensor fresh = TocaPolicy::SelectFreshTokens(input, staleness, count);
    return std::vector<int64_t>(fresh.data_ptr<int64_t>(), fresh.data_ptr<int64_t>() + count);
  };
  EXPECT_EQ(select(1), (std::vector<int64_t>{2}));        // Stale, larger norm than 4.
  EXPECT_EQ(select(3), (std::vector<int64_t>{1, 2, 4}));  // 1 and 3 tie at norm 5: 1.
  EXPECT_EQ(select(5), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(select(0).empty());
}

TEST_F(TocaPolicyTest, StalenessRotatesTheChoiceThroughEveryToken) {
  // With the counters updated as a run updates them, k = 2 of 6 tokens covers all 6 in 3 steps
  // although the norms favour the same tokens every time.
  const at::Tensor input = at::arange(6, at::kFloat).view({6, 1});
  at::Tensor staleness = at::zeros({6}, at::kInt);
  at::Tensor computed = at::zeros({6}, at::kInt);
  for (int step = 0; step < 3; ++step) {
    const at::Tensor fresh = TocaPolicy::SelectFreshTokens(input, staleness, 2);
    computed.index_add_(0, fresh, at::ones({2}, at::kInt));
    staleness.add_(1).index_fill_(0, fresh, 0);
  }
  EXPECT_TRUE(at::equal(computed, at::ones({6}, at::kInt)));
}

TEST_F(TocaPolicyTest, DescribesItsSettings) {
  EXPECT_EQ(Toca({})->Describe(), "toca(interval=2,reuse=0.8)");
  EXPECT_EQ(Toca({3, 0.85})->Describe(), "toca(interval=3,reuse=0.85)");
  // Numbers read back exactly: 0.1 + 0.2 is not 0.3 in binary.
  EXPECT_EQ(Toca({2, 0.1 + 0.2})->Describe(), "toca(interval=2,reuse=0.30000000000000004)");
}

TEST_F(TocaPolicyTest, RejectsInvalidOptions) {
  EXPECT_THAT(TocaPolicy::Create({0, 0.8}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 0")));
  for (const double reuse : {-0.1, 1.5, std::nan("")}) {
    EXPECT_THAT(TocaPolicy::Create({2, reuse}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reuse_ratio")));
  }
}

TEST_F(TocaPolicyTest, RunRejectsMisuse) { ExpectRunRejectsMisuse(*Toca({})); }

}  // namespace
}  // namespace videogen::engine::accel
