#include "engine/accel/teacache_calibration.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/accel/policy.h"
#include "engine/accel/teacache.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {
namespace {

// `status` with the request it came from, same code.
absl::Status ForRequest(size_t index, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("request ", index, ": ", status.message()));
}

double Evaluate(const std::vector<double>& coefficients, double x) {
  double value = 0;
  for (const double c : coefficients) value = value * x + c;
  return value;
}

}  // namespace

absl::StatusOr<TeaCacheCalibration> CalibrateTeaCache(
    const wan::Pipeline& pipeline, const std::vector<wan::GenerateRequest>& requests, int degree) {
  if (requests.empty()) return absl::InvalidArgumentError("no requests to calibrate on");
  if (degree < 0) {
    return absl::InvalidArgumentError(absl::StrCat("degree ", degree, " is negative"));
  }
  // Threshold 0 computes every step, so each run is the dense model's and its changes are the
  // dense model's, as the fit needs.
  TeaCacheOptions options;
  options.threshold = 0;
  options.change_log = std::make_shared<TeaCacheChangeLog>();
  VG_ASSIGN_OR_RETURN(std::shared_ptr<const Policy> policy, TeaCachePolicy::Create(options));

  // Everything is checked before the first (possibly long) run.
  std::vector<wan::GenerateRequest> runs;
  runs.reserve(requests.size());
  int64_t expected_pairs = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const wan::GenerateRequest& request = requests[i];
    if (request.schedule.has_value()) {
      return ForRequest(
          i, absl::InvalidArgumentError("has a budget schedule; calibration runs the dense model"));
    }
    if (request.acceleration != nullptr) {
      return ForRequest(i, absl::InvalidArgumentError(absl::StrCat(
                               "has the acceleration policy ", request.acceleration->Describe(),
                               "; calibration runs the dense model")));
    }
    wan::GenerateRequest& run = runs.emplace_back(request);
    run.acceleration = policy;
    if (const absl::Status valid = pipeline.Validate(run); !valid.ok()) {
      return ForRequest(i, valid);
    }
    // Pipeline's rule for classifier-free guidance (diffusers' do_classifier_free_guidance).
    const int branches = request.guidance_scale > 1.0 ? 2 : 1;
    expected_pairs += int64_t{branches} * (request.steps - 1);
  }
  if (expected_pairs < int64_t{degree} + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the requests give ", expected_pairs,
        " (input change, output change) pairs (steps - 1 per CFG branch); a polynomial of degree ",
        degree, " needs at least ", degree + 1));
  }

  for (size_t i = 0; i < runs.size(); ++i) {
    const absl::StatusOr<at::Tensor> latents =
        pipeline.GenerateLatents(runs[i], /*on_step=*/nullptr, /*cancelled=*/nullptr);
    if (!latents.ok()) return ForRequest(i, latents.status());
  }

  TeaCacheCalibration calibration;
  calibration.pairs = options.change_log->Pairs();
  if (static_cast<int64_t>(calibration.pairs.size()) != expected_pairs) {
    return absl::InternalError(absl::StrCat("the runs recorded ", calibration.pairs.size(),
                                            " pairs, expected ", expected_pairs));
  }
  std::vector<double> x, y;
  x.reserve(calibration.pairs.size());
  y.reserve(calibration.pairs.size());
  for (const auto& [input_change, output_change] : calibration.pairs) {
    x.push_back(input_change);
    y.push_back(output_change);
  }
  VG_ASSIGN_OR_RETURN(calibration.coefficients, FitRescaleCoefficients(x, y, degree));

  double mean = 0;
  for (const double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double residual_squares = 0, total_squares = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double residual = Evaluate(calibration.coefficients, x[i]) - y[i];
    residual_squares += residual * residual;
    total_squares += (y[i] - mean) * (y[i] - mean);
  }
  calibration.rms_residual = std::sqrt(residual_squares / static_cast<double>(x.size()));
  calibration.r_squared = total_squares > 0 ? 1 - residual_squares / total_squares
                                            : std::numeric_limits<double>::quiet_NaN();
  return calibration;
}

}  // namespace videogen::engine::accel
