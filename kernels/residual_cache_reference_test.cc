#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/bfloat16.h"
#include "kernels/residual_cache.h"
#include "kernels/testing/residual_cache_case.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::IsOk;
using ::videogen::testing::StatusIs;

TEST(ResidualCacheScatterReferenceTest, MergesComputedAndCachedRows) {
  // Three tokens of width 2: token 1 computed (slot 0), tokens 0 and 2 skipped.
  const ResidualCacheShape shape{3, 2, 1};
  const std::vector<float> input = {1, 2, 3, 4, 5, 6};
  const std::vector<float> computed = {10, 20};
  const std::vector<int32_t> slot = {-1, 0, -1};
  std::vector<float> cache = {0.5, 0.25, 100, 100, -1, -2};
  std::vector<float> output(6, NAN);

  ASSERT_THAT(ResidualCacheScatterReference(shape, input.data(), computed.data(), slot.data(),
                                            cache.data(), output.data()),
              IsOk());
  EXPECT_THAT(output, ElementsAre(1.5, 2.25, 10, 20, 4, 4));
  EXPECT_THAT(cache, ElementsAre(0.5, 0.25, 7, 16, -1, -2));
}

TEST(ResidualCacheScatterReferenceTest, WorksInPlace) {
  std::mt19937_64 rng(std::random_device{}());
  auto c = testing::MakeResidualCacheCase<float>(64, 24, 20, rng);
  std::vector<float> cache_copy = c.cache;
  std::vector<float> expected(c.input.size());
  ASSERT_THAT(ResidualCacheScatterReference(c.shape, c.input.data(), c.computed.data(),
                                            c.slot.data(), cache_copy.data(), expected.data()),
              IsOk());
  ASSERT_THAT(ResidualCacheScatterReference(c.shape, c.input.data(), c.computed.data(),
                                            c.slot.data(), c.cache.data(), c.input.data()),
              IsOk());
  EXPECT_EQ(c.input, expected);
  EXPECT_EQ(c.cache, cache_copy);
}

TEST(ResidualCacheScatterReferenceTest, BFloat16RoundsOnceToNearestEven) {
  // 1 + 2^-8 is halfway between two bf16 values (1 and 1 + 2^-7): ties go to even, i.e. 1.
  const ResidualCacheShape shape{2, 1, 1};
  const std::vector<BFloat16> input = {ToBFloat16(1.0f), ToBFloat16(1.0f)};
  const std::vector<BFloat16> computed = {ToBFloat16(3.0f)};
  const std::vector<int32_t> slot = {-1, 0};
  std::vector<BFloat16> cache = {ToBFloat16(std::ldexp(1.0f, -8)), ToBFloat16(0.0f)};
  std::vector<BFloat16> output(2);

  ASSERT_THAT(ResidualCacheScatterReference(shape, input.data(), computed.data(), slot.data(),
                                            cache.data(), output.data()),
              IsOk());
  EXPECT_EQ(ToFloat(output[0]), 1.0f);
  EXPECT_EQ(ToFloat(output[1]), 3.0f);
  EXPECT_EQ(ToFloat(cache[1]), 2.0f);
}

TEST(ResidualCacheScatterReferenceTest, EmptyInputIsANoOp) {
  EXPECT_THAT(
      ResidualCacheScatterReference<float>({0, 8, 0}, nullptr, nullptr, nullptr, nullptr, nullptr),
      IsOk());
}

TEST(ResidualCacheScatterReferenceTest, RejectsBadShapes) {
  float buffer[4] = {};
  int32_t slot[2] = {-1, -1};
  EXPECT_THAT(ResidualCacheScatterReference<float>({2, 0, 0}, buffer, buffer, slot, buffer, buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden=0")));
  EXPECT_THAT(ResidualCacheScatterReference<float>({2, 2, 3}, buffer, buffer, slot, buffer, buffer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_computed=3")));
  EXPECT_THAT(
      ResidualCacheScatterReference<float>({2, 2, 1}, buffer, nullptr, slot, buffer, buffer),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("null")));
}

TEST(ResidualCacheScatterReferenceTest, RejectsOutOfRangeSlotsWithoutWriting) {
  const std::vector<float> input = {1, 2};
  const std::vector<float> computed = {3};
  std::vector<float> cache = {7, 8};
  std::vector<float> output = {-5, -5};
  const std::vector<int32_t> slot = {-1, 1};
  EXPECT_THAT(ResidualCacheScatterReference<float>({2, 1, 1}, input.data(), computed.data(),
                                                   slot.data(), cache.data(), output.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("slot[1] = 1")));
  EXPECT_THAT(output, ElementsAre(-5, -5));
  EXPECT_THAT(cache, ElementsAre(7, 8));
}

}  // namespace
}  // namespace videogen::kernels
