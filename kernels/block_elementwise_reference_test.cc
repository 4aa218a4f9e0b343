#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/block_elementwise.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;
using ::videogen::testing::IsOk;
using ::videogen::testing::StatusIs;

TEST(ModulatedLayerNormReferenceTest, NormalizesAffinesAndModulatesPerBatch) {
  // Two batches of one token, hidden 2: LN([1, 3]) = [-1, 1] (up to eps).
  const std::vector<float> input = {1, 3, 1, 3};
  const std::vector<float> weight = {2, 3}, bias = {0.5, -0.5};
  // Modulation rows 3 floats apart (as slices of a wider table).
  const std::vector<float> scale = {1, 0, 99, 0, -1, 99}, shift = {10, 20, 99, 0, 0, 99};
  LayerNormArgs args;
  args.eps = 1e-12f;
  args.weight = weight.data();
  args.bias = bias.data();
  args.scale = scale.data();
  args.shift = shift.data();
  args.vector_stride = 3;
  std::vector<float> output(4);
  ASSERT_THAT(ModulatedLayerNormReference<float>({2, 1, 2}, input.data(), args, output.data()),
              IsOk());
  // Batch 0: ([-2, 3] + [0.5, -0.5]) * [2, 1] + [10, 20]; batch 1: ([-1.5, 2.5]) * [1, 0] + 0.
  EXPECT_THAT(output, Pointwise(FloatNear(1e-5), std::vector<float>{7, 22.5, -1.5, 0}));
}

TEST(ModulatedLayerNormReferenceTest, PlainLayerNormWithoutAffineOrModulation) {
  const std::vector<float> input = {2, 4, 6, 8};
  std::vector<float> output(4);
  ASSERT_THAT(
      ModulatedLayerNormReference<float>({1, 1, 4}, input.data(), LayerNormArgs(), output.data()),
      IsOk());
  const float s = 1 / std::sqrt(5.0f + 1e-6f);
  EXPECT_THAT(output, Pointwise(FloatNear(1e-6), std::vector<float>{-3 * s, -s, s, 3 * s}));
}

TEST(GatedResidualReferenceTest, AddsTheGatedUpdateOrThePlainUpdate) {
  const std::vector<float> residual = {1, 2, 3, 4}, update = {10, 20, 30, 40};
  const std::vector<float> gate = {0.5, 2, 7, -1, 0};
  GatedResidualArgs args;
  args.gate = gate.data();
  args.vector_stride = 3;
  std::vector<float> output(4);
  ASSERT_THAT(
      GatedResidualReference<float>({2, 1, 2}, residual.data(), update.data(), args, output.data()),
      IsOk());
  EXPECT_THAT(output, ElementsAre(6, 42, -27, 4));
  ASSERT_THAT(
      GatedResidualReference<float>({1, 2, 2}, residual.data(), update.data(), {}, output.data()),
      IsOk());
  EXPECT_THAT(output, ElementsAre(11, 22, 33, 44));
}

TEST(BlockElementwiseReferenceTest, RejectsBadArguments) {
  float x[4] = {};
  LayerNormArgs half_pair;
  half_pair.scale = x;
  EXPECT_THAT(ModulatedLayerNormReference<float>({1, 1, 4}, x, half_pair, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("together")));
  EXPECT_THAT(ModulatedLayerNormReference<float>({1, 1, 0}, x, {}, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden=0")));
  GatedResidualArgs narrow;
  narrow.gate = x;
  narrow.vector_stride = 2;
  EXPECT_THAT(GatedResidualReference<float>({2, 1, 4}, x, x, narrow, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vector_stride")));
  EXPECT_THAT(GatedResidualReference<float>({1, 1, 4}, x, nullptr, {}, x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("null")));
}

}  // namespace
}  // namespace videogen::kernels
