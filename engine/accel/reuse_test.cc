#include "engine/accel/reuse.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "ATen/ATen.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::accel {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

TEST(ReuseTest, ValidateStepsRejectsEmptyJobs) {
  EXPECT_OK(ValidateSteps(1));
  EXPECT_THAT(ValidateSteps(0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 0")));
}

// FormatNumber(value) read back by std::strtod and absl::SimpleAtod, both of which must give
// `value`'s exact bits (so -0 stays -0).
void ExpectReadsBack(double value) {
  const std::string text = FormatNumber(value);
  SCOPED_TRACE(text);
  char* end = nullptr;
  const double strtod_value = std::strtod(text.c_str(), &end);
  EXPECT_EQ(end, text.c_str() + text.size());
  EXPECT_EQ(std::memcmp(&strtod_value, &value, sizeof(double)), 0);
  double atod_value = 0;
  ASSERT_TRUE(absl::SimpleAtod(text, &atod_value));
  EXPECT_EQ(std::memcmp(&atod_value, &value, sizeof(double)), 0);
}

TEST(ReuseTest, FormatNumberWritesNumbersThatReadBackExactly) {
  EXPECT_EQ(FormatNumber(0), "0");
  EXPECT_EQ(FormatNumber(2), "2");
  EXPECT_EQ(FormatNumber(-1), "-1");
  EXPECT_EQ(FormatNumber(25), "25");
  EXPECT_EQ(FormatNumber(0.15), "0.15");
  EXPECT_EQ(FormatNumber(0.1), "0.1");
  EXPECT_EQ(FormatNumber(0.85), "0.85");
  // Where absl::StrCat's 6 significant digits lose the value.
  ASSERT_EQ(absl::StrCat(0.1 + 0.2), "0.3");
  EXPECT_EQ(FormatNumber(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatNumber(1.0 / 3), "0.3333333333333333");
  // Whole numbers as integers, where the shortest form would take an exponent.
  EXPECT_EQ(FormatNumber(1234567.0), "1234567");
  EXPECT_EQ(FormatNumber(100000), "100000");
  EXPECT_EQ(FormatNumber(-1e15), "-1000000000000000");
  EXPECT_EQ(FormatNumber(9007199254740991.0), "9007199254740991");  // 2^53 − 1.
  EXPECT_EQ(FormatNumber(-0.0), "-0");
  EXPECT_EQ(FormatNumber(1e20), "1e+20");  // From 2^53 on, the shortest form again.
  EXPECT_EQ(FormatNumber(1e-5), "1e-05");
  EXPECT_EQ(FormatNumber(-2.5e300), "-2.5e+300");

  for (const double value :
       {0.0, -0.0, 1.0, -1.0, 0.15, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 1e-5, 123456789.123456789,
        std::nextafter(0.1, 1.0), std::nextafter(0.1, 0.0), std::numeric_limits<double>::max(),
        std::numeric_limits<double>::lowest(), std::numeric_limits<double>::min(),
        std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::epsilon(),
        9007199254740993.0 /* 2^53 + 1, rounded to 2^53 */}) {
    ExpectReadsBack(value);
  }
  // Arbitrary bit patterns (finite ones), seeded for repeatability.
  std::mt19937_64 random(17);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t bits = random();
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    if (std::isfinite(value)) ExpectReadsBack(value);
  }
}

TEST(ReuseTest, CeilFractionTakesDecimalSettingsAtTheirDecimalValue) {
  // (1 − 0.85) · 20 and (1 − 0.7) · 10 evaluate just above 3 in binary.
  ASSERT_GT((1 - 0.85) * 20, 3.0);
  EXPECT_EQ(CeilFraction(1 - 0.85, 20), 3);
  ASSERT_GT((1 - 0.7) * 10, 3.0);
  EXPECT_EQ(CeilFraction(1 - 0.7, 10), 3);
  EXPECT_EQ(CeilFraction(0.15, 20), 3);
  // Genuine fractions round up.
  EXPECT_EQ(CeilFraction(0.15, 50), 8);
  EXPECT_EQ(CeilFraction(0.2, 192), 39);
  EXPECT_EQ(CeilFraction(0.001, 10), 1);
  EXPECT_EQ(CeilFraction(0.0, 10), 0);
  EXPECT_EQ(CeilFraction(1.0, 10), 10);
  EXPECT_EQ(CeilFraction(0.5, 0), 0);
}

TEST(ReuseTest, BranchesBytesCountsDefinedTensorsOnly) {
  wan::Transformer::Branches branches;
  EXPECT_EQ(BranchesBytes(branches), 0);
  branches.self_attention = at::zeros({1, 3, 4}, at::kFloat);
  branches.feed_forward = at::zeros({1, 3, 4}, at::kBFloat16);
  EXPECT_EQ(BranchesBytes(branches), 3 * 4 * 4 + 3 * 4 * 2);
}

}  // namespace
}  // namespace videogen::engine::accel
