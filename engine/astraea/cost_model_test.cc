#include "engine/astraea/cost_model.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/astraea/schedule.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::astraea {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::videogen::testing::IsOk;
using ::videogen::testing::StatusIs;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// Step times that are neither linear nor monotonic in θ, as a measurement can be.
const std::vector<double> kMeasured = {0.031, 0.040,     0.052, 0.060, 0.0644, 0.081,
                                       0.079, 0.1 + 0.2, 0.12,  0.13,  0.14};

TEST(StepCostModelTest, FromFractionsFollowsTheAnalyticFormula) {
  ASSERT_OK_AND_ASSIGN(const StepCostModel model, StepCostModel::FromFractions(0.14, 0.1));
  EXPECT_DOUBLE_EQ(model.StepSeconds(kDenseLevel), 0.14);
  EXPECT_DOUBLE_EQ(model.StepSeconds(4), 0.14 * (0.1 + 0.9 * 0.4));
  EXPECT_DOUBLE_EQ(model.StepSeconds(0), 0.014);
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule uniform, BudgetSchedule::Uniform(50, 0.4));
  EXPECT_NEAR(model.ScheduleSeconds(uniform), 50 * 0.14 * 0.46, 1e-12);
  EXPECT_NEAR(model.PredictedSpeedup(uniform), 1 / (0.4 + 0.6 * 0.1), 1e-12);
}

TEST(StepCostModelTest, UniformSpeedupIsTheIdealOneAtEveryLevel) {
  for (const double f : {0.0, 0.1, 0.25, 0.9}) {
    ASSERT_OK_AND_ASSIGN(const StepCostModel model, StepCostModel::FromFractions(0.5, f));
    for (int level = 1; level <= kDenseLevel; ++level) {
      const double theta = level / 10.0;
      ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::Uniform(30, theta));
      EXPECT_NEAR(model.PredictedSpeedup(s), 1 / (theta + (1 - theta) * f), 1e-12)
          << "f = " << f << ", theta = " << theta;
    }
  }
}

TEST(StepCostModelTest, DenseScheduleSpeedupIsExactlyOne) {
  ASSERT_OK_AND_ASSIGN(const StepCostModel model, StepCostModel::Create(kMeasured));
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule dense, BudgetSchedule::Dense(kMaxScheduleSteps));
  EXPECT_EQ(model.PredictedSpeedup(dense), 1.0);
}

TEST(StepCostModelTest, MeasuredTableIsUsedWithoutInterpolation) {
  ASSERT_OK_AND_ASSIGN(const StepCostModel model, StepCostModel::Create(kMeasured));
  for (int level = 0; level <= kDenseLevel; ++level) {
    EXPECT_EQ(model.StepSeconds(level), kMeasured[level]);
  }
  // Level 6 is measured faster than level 5; a fitted or interpolated model would not say so.
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule s, BudgetSchedule::FromLevels({5, 6, 6, 10, 0}));
  const double expected = kMeasured[5] + kMeasured[6] + kMeasured[6] + kMeasured[10] + kMeasured[0];
  EXPECT_DOUBLE_EQ(model.ScheduleSeconds(s), expected);
  EXPECT_DOUBLE_EQ(model.PredictedSpeedup(s), 5 * 0.14 / expected);
}

TEST(StepCostModelTest, CreateRejectsBadTablesNamingTheLevel) {
  EXPECT_THAT(StepCostModel::Create(std::vector<double>(10, 0.1)),
              StatusIs(kInvalid, HasSubstr("has 10 values, expected 11")));
  EXPECT_THAT(StepCostModel::Create(std::vector<double>(12, 0.1)),
              StatusIs(kInvalid, HasSubstr("has 12 values")));
  for (const double bad : {0.0, -0.1, std::numeric_limits<double>::infinity(), std::nan("")}) {
    std::vector<double> table = kMeasured;
    table[3] = bad;
    EXPECT_THAT(StepCostModel::Create(table),
                StatusIs(kInvalid, HasSubstr("step_seconds_by_level[3]")))
        << bad;
  }
}

TEST(StepCostModelTest, FromFractionsRejectsBadArguments) {
  for (const double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(), std::nan("")}) {
    EXPECT_THAT(StepCostModel::FromFractions(bad, 0.1),
                StatusIs(kInvalid, HasSubstr("dense_step_seconds")))
        << bad;
  }
  for (const double bad : {-0.1, 1.0, 1.5, std::nan("")}) {
    EXPECT_THAT(StepCostModel::FromFractions(0.14, bad),
                StatusIs(kInvalid, HasSubstr("fixed_fraction")))
        << bad;
  }
}

TEST(StepCostModelTest, JsonRoundTripIsExact) {
  ASSERT_OK_AND_ASSIGN(const StepCostModel analytic, StepCostModel::FromFractions(0.14, 0.1));
  ASSERT_OK_AND_ASSIGN(const StepCostModel measured, StepCostModel::Create(kMeasured));
  for (const StepCostModel* model : {&analytic, &measured}) {
    const std::string json = model->ToJson();
    EXPECT_THAT(json, HasSubstr("{\"step_seconds_by_level\":["));
    ASSERT_OK_AND_ASSIGN(const StepCostModel read, StepCostModel::FromJson(json));
    for (int level = 0; level <= kDenseLevel; ++level) {
      EXPECT_EQ(read.StepSeconds(level), model->StepSeconds(level)) << json;
    }
    EXPECT_EQ(read.ToJson(), json);
  }
}

TEST(StepCostModelTest, FromJsonAcceptsWhitespaceAndIntegers) {
  ASSERT_OK_AND_ASSIGN(const StepCostModel model,
                       StepCostModel::FromJson(R"( { "step_seconds_by_level" :
                           [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11.5] } )"));
  EXPECT_EQ(model.StepSeconds(0), 1.0);
  EXPECT_EQ(model.StepSeconds(kDenseLevel), 11.5);
}

TEST(StepCostModelTest, FromJsonRejectsMalformedInput) {
  constexpr char kTen[] = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
  constexpr char kEleven[] = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]";
  EXPECT_THAT(StepCostModel::FromJson("not json"),
              StatusIs(kInvalid, AllOf(HasSubstr("step cost model"), HasSubstr("not valid JSON"))));
  EXPECT_THAT(StepCostModel::FromJson(R"({"step_seconds_by_level": [1, 2)"),
              StatusIs(kInvalid, HasSubstr("not valid JSON")));
  EXPECT_THAT(StepCostModel::FromJson(kEleven), StatusIs(kInvalid, HasSubstr("not an object")));
  EXPECT_THAT(
      StepCostModel::FromJson("{}"),
      StatusIs(kInvalid, HasSubstr("step_seconds_by_level must be an array of 11 numbers")));
  EXPECT_THAT(StepCostModel::FromJson(absl::StrCat(R"({"step_seconds_by_level": )", kTen, "}")),
              StatusIs(kInvalid, HasSubstr("array of 11 numbers")));
  EXPECT_THAT(StepCostModel::FromJson(
                  R"({"step_seconds_by_level": [1, 2, 3, 4, 5, "6", 7, 8, 9, 10, 11]})"),
              StatusIs(kInvalid, HasSubstr("array of 11 numbers")));
  EXPECT_THAT(StepCostModel::FromJson(R"({"step_seconds_by_level": 0.14})"),
              StatusIs(kInvalid, HasSubstr("array of 11 numbers")));
  EXPECT_THAT(
      StepCostModel::FromJson(R"({"step_seconds_by_level": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -11]})"),
      StatusIs(kInvalid, HasSubstr("step_seconds_by_level[10] = -11")));
  EXPECT_THAT(StepCostModel::FromJson(
                  absl::StrCat(R"({"step_seconds_by_level": )", kEleven, R"(, "dense": 0.14})")),
              StatusIs(kInvalid, HasSubstr("unknown field \"dense\"")));
  EXPECT_THAT(StepCostModel::FromJson(absl::StrCat(R"({"step_seconds_by_level": )", kEleven,
                                                   R"(, "step_seconds_by_level": )", kEleven, "}")),
              StatusIs(kInvalid, HasSubstr("repeats the key")));
}

TEST(StepCostModelTest, ZeroFixedFractionMakesEmptyStepsFree) {
  ASSERT_OK_AND_ASSIGN(const StepCostModel model, StepCostModel::FromFractions(0.14, 0.0));
  EXPECT_EQ(model.StepSeconds(0), 0.0);
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule half, BudgetSchedule::FromLevels({0, 10}));
  EXPECT_DOUBLE_EQ(model.PredictedSpeedup(half), 2.0);
  EXPECT_THAT(StepCostModel::FromJson(model.ToJson()),
              StatusIs(kInvalid, HasSubstr("step_seconds_by_level[0] = 0")));
}

}  // namespace
}  // namespace videogen::engine::astraea
