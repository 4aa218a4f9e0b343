#include "engine/astraea/schedule.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::astraea {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::IsOk;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(BudgetScheduleTest, FromThetasStoresGridLevels) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::FromThetas({0.4, 0.5, 1.0, 0.0}));
  EXPECT_EQ(s.steps(), 4);
  EXPECT_THAT(s.levels(), ElementsAre(4, 5, 10, 0));
  EXPECT_EQ(s.level(1), 5);
  EXPECT_EQ(s.theta(0), 0.4);
  EXPECT_EQ(s.theta(2), 1.0);
  EXPECT_EQ(s.theta(3), 0.0);
}

TEST(BudgetScheduleTest, FromThetasAbsorbsFloatingPointNoise) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s,
                       BudgetSchedule::FromThetas({0.1 + 0.2, 1 - 0.7, 1 + 1e-9, -1e-9}));
  EXPECT_THAT(s.levels(), ElementsAre(3, 3, 10, 0));
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule exact, BudgetSchedule::FromLevels({3, 3, 10, 0}));
  EXPECT_EQ(s, exact);
}

TEST(BudgetScheduleTest, FromThetasRejectsValuesOffTheGridNamingTheStep) {
  EXPECT_THAT(BudgetSchedule::FromThetas({0.4, 0.45}),
              StatusIs(kInvalid, AllOf(HasSubstr("step 1"), HasSubstr("0.45"),
                                       HasSubstr("not on the grid"))));
  EXPECT_THAT(BudgetSchedule::FromThetas({0.5, 0.5, 0.30001}),
              StatusIs(kInvalid, AllOf(HasSubstr("step 2"), HasSubstr("0.30001"))));
  EXPECT_THAT(BudgetSchedule::FromThetas({0.5, 1.5}),
              StatusIs(kInvalid,
                       AllOf(HasSubstr("step 1"), HasSubstr("1.5"), HasSubstr("outside [0, 1]"))));
  EXPECT_THAT(BudgetSchedule::FromThetas({-0.1}),
              StatusIs(kInvalid, AllOf(HasSubstr("step 0"), HasSubstr("-0.1"))));
  EXPECT_THAT(BudgetSchedule::FromThetas({1.0, std::nan("")}),
              StatusIs(kInvalid, AllOf(HasSubstr("step 1"), HasSubstr("nan"))));
  EXPECT_THAT(BudgetSchedule::FromThetas({std::numeric_limits<double>::infinity()}),
              StatusIs(kInvalid, HasSubstr("step 0")));
}

TEST(BudgetScheduleTest, StepCountMustBeOneToMax) {
  EXPECT_THAT(BudgetSchedule::FromThetas({}), StatusIs(kInvalid, HasSubstr("0 steps")));
  EXPECT_THAT(BudgetSchedule::FromLevels(std::vector<int>(kMaxScheduleSteps + 1, 5)),
              StatusIs(kInvalid, HasSubstr("1001 steps")));
  EXPECT_THAT(BudgetSchedule::FromLevels(std::vector<int>(kMaxScheduleSteps, 5)), IsOk());
  EXPECT_THAT(BudgetSchedule::Uniform(0, 0.5), StatusIs(kInvalid, HasSubstr("0 steps")));
  EXPECT_THAT(BudgetSchedule::Dense(-3), StatusIs(kInvalid, HasSubstr("-3 steps")));
}

TEST(BudgetScheduleTest, FromLevelsRejectsLevelsOutsideTheGrid) {
  EXPECT_THAT(BudgetSchedule::FromLevels({3, 11}),
              StatusIs(kInvalid, AllOf(HasSubstr("step 1"), HasSubstr("level = 11"))));
  EXPECT_THAT(BudgetSchedule::FromLevels({-1, 3}),
              StatusIs(kInvalid, AllOf(HasSubstr("step 0"), HasSubstr("level = -1"))));
}

TEST(BudgetScheduleTest, UniformAndDense) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule uniform, BudgetSchedule::Uniform(5, 0.3));
  EXPECT_THAT(uniform.levels(), ElementsAre(3, 3, 3, 3, 3));
  EXPECT_FALSE(uniform.IsDense());
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule dense, BudgetSchedule::Dense(4));
  EXPECT_TRUE(dense.IsDense());
  EXPECT_THAT(BudgetSchedule::Uniform(4, 1.0), IsOkAndHolds(dense));
  EXPECT_THAT(BudgetSchedule::Uniform(5, 0.35),
              StatusIs(kInvalid, AllOf(HasSubstr("0.35"), HasSubstr("not on the grid"))));
}

TEST(BudgetScheduleTest, WithMeanBudgetHitsTheMeanWithDenseEnds) {
  // 50 steps, first and last dense, mean 0.4: the 48 middle steps share 18.0 -> 36 at 0.4 and
  // 12 at 0.3, spread evenly.
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::WithMeanBudget(50, 0.4, 1, 1));
  EXPECT_DOUBLE_EQ(s.MeanBudget(), 0.4);
  EXPECT_EQ(s.level(0), kDenseLevel);
  EXPECT_EQ(s.level(49), kDenseLevel);
  EXPECT_EQ(std::count(s.levels().begin(), s.levels().end(), 4), 36);
  EXPECT_EQ(std::count(s.levels().begin(), s.levels().end(), 3), 12);
  EXPECT_EQ(s.ToString().substr(0, 20), "1.0,0.3,0.4,0.4,0.4,");
  for (const double budget : {0.5, 0.7, 1.0}) {
    ASSERT_OK_AND_ASSIGN(const BudgetSchedule t, BudgetSchedule::WithMeanBudget(50, budget, 1, 1));
    EXPECT_DOUBLE_EQ(t.MeanBudget(), budget);
  }
  EXPECT_THAT(BudgetSchedule::WithMeanBudget(10, 0.1, 1, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("below what 2 dense steps")));
  EXPECT_THAT(BudgetSchedule::WithMeanBudget(10, 0, 0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside (0, 1]")));
}

TEST(BudgetScheduleTest, WithDenseEndsMakesTheEndsDense) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::WithDenseEnds(7, 0.4, 2, 1));
  EXPECT_THAT(s.levels(), ElementsAre(10, 10, 4, 4, 4, 4, 10));
  EXPECT_DOUBLE_EQ(s.MeanBudget(), 46.0 / 70);
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule all_dense, BudgetSchedule::WithDenseEnds(3, 0.4, 2, 1));
  EXPECT_TRUE(all_dense.IsDense());
  EXPECT_THAT(BudgetSchedule::WithDenseEnds(3, 0.4, 2, 2),
              StatusIs(kInvalid, HasSubstr("do not fit in 3 steps")));
  EXPECT_THAT(BudgetSchedule::WithDenseEnds(3, 0.4, -1, 0), StatusIs(kInvalid));
  EXPECT_THAT(BudgetSchedule::WithDenseEnds(3, 0.4, 0, -1), StatusIs(kInvalid));
  EXPECT_THAT(BudgetSchedule::WithDenseEnds(3, 1.2, 1, 1), StatusIs(kInvalid, HasSubstr("1.2")));
}

TEST(BudgetScheduleTest, ToStringPrintsOneDecimal) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::FromLevels({4, 5, 10, 0}));
  EXPECT_EQ(s.ToString(), "0.4,0.5,1.0,0.0");
}

TEST(BudgetScheduleTest, ParseToleratesWhitespaceAndRoundTrips) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule parsed, BudgetSchedule::Parse(" 0.4, 0.5 ,1\t,0 "));
  EXPECT_THAT(parsed.levels(), ElementsAre(4, 5, 10, 0));
  std::vector<int> every_level;
  for (int level = 0; level <= kDenseLevel; ++level) every_level.push_back(level);
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::FromLevels(every_level));
  EXPECT_EQ(s.ToString(), "0.0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0");
  EXPECT_THAT(BudgetSchedule::Parse(s.ToString()), IsOkAndHolds(s));
}

TEST(BudgetScheduleTest, ParseRejectsMalformedTextNamingTheStep) {
  EXPECT_THAT(BudgetSchedule::Parse("0.4,abc"),
              StatusIs(kInvalid, AllOf(HasSubstr("step 1"), HasSubstr("\"abc\""))));
  EXPECT_THAT(BudgetSchedule::Parse("0.4,,0.5"),
              StatusIs(kInvalid, AllOf(HasSubstr("step 1"), HasSubstr("not a number"))));
  EXPECT_THAT(BudgetSchedule::Parse("0.4;0.5"), StatusIs(kInvalid, HasSubstr("step 0")));
  EXPECT_THAT(BudgetSchedule::Parse(""), StatusIs(kInvalid, HasSubstr("step 0")));
  EXPECT_THAT(BudgetSchedule::Parse("0.4,0.5,"), StatusIs(kInvalid, HasSubstr("step 2")));
  EXPECT_THAT(BudgetSchedule::Parse("0.4,0.55"),
              StatusIs(kInvalid, AllOf(HasSubstr("step 1"), HasSubstr("not on the grid"))));
}

TEST(BudgetScheduleTest, MeanBudget) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::FromLevels({4, 5, 10}));
  EXPECT_DOUBLE_EQ(s.MeanBudget(), 19.0 / 30);
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule uniform, BudgetSchedule::Uniform(50, 0.4));
  EXPECT_DOUBLE_EQ(uniform.MeanBudget(), 0.4);
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule dense, BudgetSchedule::Dense(50));
  EXPECT_EQ(dense.MeanBudget(), 1.0);
}

TEST(BudgetScheduleTest, TokensToComputeRoundsHalfAwayFromZero) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::FromLevels({5, 1, 4, 7, 10, 0}));
  EXPECT_EQ(s.TokensToCompute(0, 3), 2);  // 1.5
  EXPECT_EQ(s.TokensToCompute(0, 1), 1);  // 0.5
  EXPECT_EQ(s.TokensToCompute(1, 14040), 1404);
  EXPECT_EQ(s.TokensToCompute(1, 4), 0);  // 0.4
  EXPECT_EQ(s.TokensToCompute(2, 14040), 5616);
  EXPECT_EQ(s.TokensToCompute(3, 5), 4);    // 3.5
  EXPECT_EQ(s.TokensToCompute(3, 45), 32);  // 31.5; 0.7 * 45 in doubles is 31.499999999999996.
  EXPECT_EQ(s.TokensToCompute(4, 14039), 14039);
  EXPECT_EQ(s.TokensToCompute(5, 14039), 0);
  EXPECT_EQ(s.TokensToCompute(2, 0), 0);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(s.TokensToCompute(4, kMax), kMax);
  EXPECT_EQ(s.TokensToCompute(0, kMax), kMax / 2 + 1);  // x.5 rounds up.
}

TEST(BudgetScheduleTest, ValidateChecksTheStepCount) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::Uniform(30, 0.5));
  EXPECT_THAT(s.Validate(30), IsOk());
  EXPECT_THAT(s.Validate(50),
              StatusIs(kInvalid, AllOf(HasSubstr("30 steps"), HasSubstr("expected 50"))));
}

TEST(CheckBudgetWindowTest, AcceptsMeansWithinTenPercentInclusive) {
  // 10 steps: a mean of k/100 is k tenths summed.
  auto with_sum = [](int sum_of_levels) {
    std::vector<int> levels(10, sum_of_levels / 10);
    for (int i = 0; i < sum_of_levels % 10; ++i) ++levels[i];
    return BudgetSchedule::FromLevels(levels).value();
  };
  EXPECT_THAT(CheckBudgetWindow(with_sum(50), 0.5), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(45), 0.5), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(55), 0.5), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(44), 0.5),
              StatusIs(kInvalid, AllOf(HasSubstr("0.44"), HasSubstr("[0.45, 0.55]"))));
  EXPECT_THAT(CheckBudgetWindow(with_sum(56), 0.5), StatusIs(kInvalid, HasSubstr("0.56")));
  // In doubles 0.9 * 0.1 > 0.09 and 0.9 * 0.4 > 0.36: the bounds are still inclusive.
  EXPECT_THAT(CheckBudgetWindow(with_sum(9), 0.1), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(36), 0.4), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(8), 0.1), StatusIs(kInvalid));
  // Custom tolerance.
  EXPECT_THAT(CheckBudgetWindow(with_sum(50), 0.4, 0.25), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(40), 0.4, 0.0), IsOk());
  EXPECT_THAT(CheckBudgetWindow(with_sum(41), 0.4, 0.0), StatusIs(kInvalid));
}

TEST(CheckBudgetWindowTest, RejectsBadBudgetOrTolerance) {
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::Uniform(10, 0.5));
  EXPECT_THAT(CheckBudgetWindow(s, 0.0), StatusIs(kInvalid, HasSubstr("budget = 0")));
  EXPECT_THAT(CheckBudgetWindow(s, 1.5), StatusIs(kInvalid, HasSubstr("budget = 1.5")));
  EXPECT_THAT(CheckBudgetWindow(s, std::nan("")), StatusIs(kInvalid));
  EXPECT_THAT(CheckBudgetWindow(s, 0.5, -0.1), StatusIs(kInvalid, HasSubstr("tolerance")));
  EXPECT_THAT(CheckBudgetWindow(s, 0.5, 1.0), StatusIs(kInvalid, HasSubstr("tolerance")));
}

}  // namespace
}  // namespace videogen::engine::astraea
