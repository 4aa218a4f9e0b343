// TeaCache calibration on the tiny golden Wan pipeline (float32, CPU): the pairs come from dense
// runs of every request's CFG branches, in the documented order, and the fit and its quality are
// those of the pairs; requests it cannot calibrate on are rejected before anything runs.
#include "engine/accel/teacache_calibration.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "engine/accel/policies.h"
#include "engine/accel/teacache.h"
#include "engine/astraea/schedule.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/testing/golden_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::accel {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;
using Pairs = std::vector<std::pair<double, double>>;

class TeaCacheCalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        pipeline_, wan::Pipeline::Load(RunfilePath("tests/golden/wan_tiny"), at::kFloat, at::kCPU));
    // pipeline_golden_test's request: guided, 4 steps.
    ASSERT_OK_AND_ASSIGN(guided_, wan::testing::WanTinyGoldenRequest());
    // Another prompt and seed, unguided (one branch), 3 steps.
    unguided_ = guided_;
    unguided_.prompt = "a lighthouse on a cliff at dusk";
    unguided_.guidance_scale = 1.0;
    unguided_.steps = 3;
    unguided_.seed = 7;
  }

  // The pairs a threshold-0 TeaCache policy with a change log records over `request`'s run on
  // the pipeline, checking that the run is the dense model's.
  Pairs RecordedPairs(wan::GenerateRequest request) const {
    const absl::StatusOr<at::Tensor> dense = pipeline_->GenerateLatents(request, {}, {});
    EXPECT_TRUE(dense.ok()) << dense.status();
    TeaCacheOptions options;
    options.threshold = 0;
    options.change_log = std::make_shared<TeaCacheChangeLog>();
    request.acceleration = TeaCachePolicy::Create(options).value();
    const absl::StatusOr<at::Tensor> recorded = pipeline_->GenerateLatents(request, {}, {});
    EXPECT_TRUE(recorded.ok()) << recorded.status();
    if (dense.ok() && recorded.ok()) {
      EXPECT_TRUE(at::equal(*recorded, *dense));
    }
    return options.change_log->Pairs();
  }

  std::unique_ptr<wan::Pipeline> pipeline_;
  wan::GenerateRequest guided_, unguided_;
};

TEST_F(TeaCacheCalibrationTest, FitsTheChangesOfDenseRunsOfEveryBranch) {
  constexpr int kDegree = 4;
  ASSERT_OK_AND_ASSIGN(const TeaCacheCalibration calibration,
                       CalibrateTeaCache(*pipeline_, {guided_, unguided_}, kDegree));
  // requests × (steps − 1) × branches: (4 − 1) × 2 + (3 − 1) × 1.
  ASSERT_EQ(calibration.pairs.size(), 8u);
  for (const auto& [x, y] : calibration.pairs) {
    EXPECT_TRUE(std::isfinite(x) && x > 0) << x;
    EXPECT_TRUE(std::isfinite(y) && y > 0) << y;
  }
  // The pairs of each request's dense run, request by request (the runs are deterministic on
  // the CPU, so exactly the same values).
  Pairs expected = RecordedPairs(guided_);
  const Pairs unguided = RecordedPairs(unguided_);
  expected.insert(expected.end(), unguided.begin(), unguided.end());
  EXPECT_EQ(calibration.pairs, expected);

  // The fit of those pairs, and its quality measured here from them.
  std::vector<double> x, y;
  for (const auto& [input_change, output_change] : calibration.pairs) {
    x.push_back(input_change);
    y.push_back(output_change);
  }
  ASSERT_OK_AND_ASSIGN(const std::vector<double> fit, FitRescaleCoefficients(x, y, kDegree));
  EXPECT_EQ(calibration.coefficients, fit);
  ASSERT_EQ(calibration.coefficients.size(), kDegree + 1u);
  for (const double c : calibration.coefficients) EXPECT_TRUE(std::isfinite(c)) << c;
  long double mean = 0, residual_squares = 0, total_squares = 0;
  for (const double v : y) mean += v;
  mean /= y.size();
  for (size_t i = 0; i < x.size(); ++i) {
    long double p = 0;
    for (const double c : fit) p = p * x[i] + c;
    residual_squares += (p - y[i]) * (p - y[i]);
    total_squares += (y[i] - mean) * (y[i] - mean);
  }
  EXPECT_NEAR(calibration.rms_residual, std::sqrt(residual_squares / x.size()),
              1e-9 * std::sqrt(total_squares / x.size()));
  EXPECT_NEAR(calibration.r_squared, 1 - residual_squares / total_squares, 1e-9);
  EXPECT_LE(calibration.r_squared, 1.0);

  // The calibrated policy is a spec that reads back exactly.
  TeaCacheOptions options;
  options.coefficients = calibration.coefficients;
  ASSERT_OK_AND_ASSIGN(const std::unique_ptr<TeaCachePolicy> calibrated,
                       TeaCachePolicy::Create(options));
  ASSERT_OK_AND_ASSIGN(const std::shared_ptr<const Policy> parsed,
                       ParsePolicy(calibrated->Describe()));
  EXPECT_EQ(parsed->Describe(), calibrated->Describe());
  const auto* teacache = dynamic_cast<const TeaCachePolicy*>(parsed.get());
  ASSERT_NE(teacache, nullptr);
  EXPECT_EQ(teacache->options().coefficients, calibration.coefficients);
  // And it runs on the pipeline.
  wan::GenerateRequest request = guided_;
  request.acceleration = parsed;
  EXPECT_OK(pipeline_->GenerateLatents(request, {}, {}).status());
}

TEST_F(TeaCacheCalibrationTest, RejectsRequestsItCannotCalibrateOn) {
  EXPECT_THAT(CalibrateTeaCache(*pipeline_, {}, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no requests")));
  EXPECT_THAT(CalibrateTeaCache(*pipeline_, {guided_}, -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("degree -1 is negative")));

  wan::GenerateRequest scheduled = unguided_;
  ASSERT_OK_AND_ASSIGN(scheduled.schedule, astraea::BudgetSchedule::Dense(scheduled.steps));
  EXPECT_THAT(
      CalibrateTeaCache(*pipeline_, {guided_, scheduled}, 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request 1: has a budget schedule")));

  wan::GenerateRequest accelerated = guided_;
  ASSERT_OK_AND_ASSIGN(accelerated.acceleration, ParsePolicy("teacache(threshold=0)"));
  EXPECT_THAT(CalibrateTeaCache(*pipeline_, {accelerated}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("request 0: has the acceleration policy teacache(threshold=0,")));

  wan::GenerateRequest invalid = unguided_;
  invalid.steps = 0;
  EXPECT_THAT(CalibrateTeaCache(*pipeline_, {invalid}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request 0: steps 0")));

  // One unguided request of 3 steps gives 2 pairs: a line, not a parabola.
  EXPECT_THAT(CalibrateTeaCache(*pipeline_, {unguided_}, 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the requests give 2 (input change, output change) pairs")));
  ASSERT_OK_AND_ASSIGN(const TeaCacheCalibration line,
                       CalibrateTeaCache(*pipeline_, {unguided_}, 1));
  EXPECT_EQ(line.pairs.size(), 2u);
  EXPECT_EQ(line.coefficients.size(), 2u);
  // Two points: the line goes through both.
  EXPECT_LT(line.rms_residual, 1e-9 * line.pairs[0].second);
}

}  // namespace
}  // namespace videogen::engine::accel
