#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/token_topk.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

struct Result {
  std::vector<int64_t> selected;
  std::vector<int32_t> slot;
};

// Tokens with one sketch dimension each (delta = now^2 with last = 0).
Result Select(const std::vector<float>& lse, const std::vector<float>& now,
              const std::vector<int32_t>& skip, float w_alpha, float w_beta, int64_t k) {
  const int64_t n = static_cast<int64_t>(lse.size());
  const std::vector<float> last(n, 0.0f);
  Result result{std::vector<int64_t>(k), std::vector<int32_t>(n)};
  EXPECT_OK(TokenTopKReference({n, 1, k}, lse.data(), now.data(), last.data(), skip.data(),
                               TokenTopKParams::Make(w_alpha, w_beta, 1.0f), result.selected.data(),
                               result.slot.data()));
  return result;
}

TEST(TokenTopKReferenceTest, TakesTheHighestScoresAndBreaksTiesByLowerIndex) {
  // Scores lse * now^2 = 0, 1, 4, 0, 1, 4: both 4s, then the first 1.
  const Result r = Select({1, 1, 1, 1, 1, 1}, {0, 1, 2, 0, 1, 2}, {0, 0, 0, 0, 0, 0}, 1, 0, 3);
  EXPECT_THAT(r.selected, ElementsAre(1, 2, 5));
  EXPECT_THAT(r.slot, ElementsAre(-1, 0, 1, -1, -1, 2));
}

TEST(TokenTopKReferenceTest, LseWeightsTheChange) {
  // Same change, the larger log-sum-exp wins; a larger change can outweigh it.
  const Result r = Select({1, 3, 1}, {1, 1, 2}, {0, 0, 0}, 1, 0, 2);
  EXPECT_THAT(r.selected, ElementsAre(1, 2));
}

TEST(TokenTopKReferenceTest, PenaltyGrowsWithSkipsAndSaturates) {
  // Without significance the longest-skipped win; skips past the cap tie (lower index first).
  const Result r = Select({1, 1, 1, 1}, {0, 0, 0, 0}, {3, 100, 64, 5}, 1, 1, 2);
  EXPECT_THAT(r.selected, ElementsAre(1, 2));
  const Result capped = Select({1, 1, 1, 1}, {0, 0, 0, 0}, {3, 100, 64, 5}, 1, 1, 1);
  EXPECT_THAT(capped.selected, ElementsAre(1));
}

TEST(TokenTopKReferenceTest, NanRanksLowestAndTiesWithMinusInfinity) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // Scores: NaN (-> -inf), -inf, 2, -1.
  const Result r = Select({nan, -inf, 2, -1}, {1, 1, 1, 1}, {0, 0, 0, 0}, 1, 0, 3);
  EXPECT_THAT(r.selected, ElementsAre(0, 2, 3));  // -1, 2, then the lower-index of the -infs.
}

TEST(TokenTopKReferenceTest, NoneAndAll) {
  const Result none = Select({1, 2, 3}, {1, 1, 1}, {0, 0, 0}, 1, 1, 0);
  EXPECT_THAT(none.slot, ElementsAre(-1, -1, -1));
  const Result all = Select({1, 2, 3}, {1, 1, 1}, {0, 0, 0}, 1, 1, 3);
  EXPECT_THAT(all.selected, ElementsAre(0, 1, 2));
  EXPECT_THAT(all.slot, ElementsAre(0, 1, 2));
}

TEST(TokenTopKReferenceTest, RejectsBadArguments) {
  const std::vector<float> f(4, 0.0f);
  const std::vector<int32_t> skip(4, 0);
  std::vector<int64_t> selected(4);
  std::vector<int32_t> slot(4);
  const TokenTopKParams params = TokenTopKParams::Make(1, 1, 1);
  EXPECT_THAT(TokenTopKReference({4, 1, 5}, f.data(), f.data(), f.data(), skip.data(), params,
                                 selected.data(), slot.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("k=5")));
  EXPECT_THAT(TokenTopKReference({4, 0, 2}, f.data(), f.data(), f.data(), skip.data(), params,
                                 selected.data(), slot.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sketch_dim=0")));
  EXPECT_THAT(TokenTopKReference({4, 1, 2}, nullptr, f.data(), f.data(), skip.data(), params,
                                 selected.data(), slot.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("null buffer")));
}

}  // namespace
}  // namespace videogen::kernels
