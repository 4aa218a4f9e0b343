#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/rms_norm_rope.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;
using ::videogen::testing::IsOk;
using ::videogen::testing::StatusIs;

TEST(RmsNormRopeReferenceTest, NormalizesAcrossHeadsThenRotatesPairsPerToken) {
  // One row of two heads of width 2 (hidden 4), read from a strided input (stride 6).
  const std::vector<float> input = {1, 1, 1, 1, 99, 99};
  const std::vector<float> weight = {1, 2, 3, 4};
  // Token 0's table: pair angle 90 degrees (cos 0, sin 1) for the head's only pair.
  const std::vector<float> cos = {0, 0}, sin = {1, 1};
  RmsNormRopeArgs args;
  args.head_dim = 2;
  args.input_row_stride = 6;
  args.eps = 1e-12f;
  args.cos = cos.data();
  args.sin = sin.data();
  std::vector<float> output(4);
  ASSERT_THAT(
      RmsNormRopeReference<float>({1, 1, 4}, input.data(), weight.data(), args, output.data()),
      IsOk());
  // RMS of [1,1,1,1] is 1, so n = weight; each pair (a, b) rotates to (-b, a).
  EXPECT_THAT(output, Pointwise(FloatNear(1e-6), std::vector<float>{-2, 1, -4, 3}));

  args.cos = args.sin = nullptr;  // RMSNorm only.
  ASSERT_THAT(
      RmsNormRopeReference<float>({1, 1, 4}, input.data(), weight.data(), args, output.data()),
      IsOk());
  EXPECT_THAT(output, Pointwise(FloatNear(1e-6), weight));
}

TEST(RmsNormRopeReferenceTest, RejectsBadArguments) {
  float x[8] = {};
  RmsNormRopeArgs args;
  args.head_dim = 3;
  args.input_row_stride = 6;
  EXPECT_THAT(RmsNormRopeReference<float>({1, 1, 6}, x, x, args, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("head_dim must be even")));
  args.head_dim = 2;
  args.input_row_stride = 4;
  EXPECT_THAT(RmsNormRopeReference<float>({1, 1, 6}, x, x, args, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input_row_stride")));
  args.input_row_stride = 6;
  args.cos = x;
  EXPECT_THAT(RmsNormRopeReference<float>({1, 1, 6}, x, x, args, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("together")));
}

}  // namespace
}  // namespace videogen::kernels
