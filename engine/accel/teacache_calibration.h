// TeaCache calibration (issue 10): fits TeaCache's rescale polynomial p (teacache.h) on the model
// a Pipeline serves, from the dense runs of a set of requests.
//
// Each request's denoising runs through Pipeline::GenerateLatents (no VAE decode) under a
// threshold-0 TeaCache policy with a change log, so every step is computed (the dense model,
// bit for bit) while each CFG branch records (x_t, y_t) at every step after the first. The pairs
// of all requests are then fitted by FitRescaleCoefficients(). Calibrate with requests like the
// ones the policy will serve (resolution, frames, steps, guidance): the changes depend on them.
//
// Thread-safety: may run concurrently on one pipeline (each call has its own policy and log).
#ifndef VIDEOGEN_ENGINE_ACCEL_TEACACHE_CALIBRATION_H_
#define VIDEOGEN_ENGINE_ACCEL_TEACACHE_CALIBRATION_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/wan/pipeline.h"

namespace videogen::engine::accel {

struct TeaCacheCalibration {
  // (x_t, y_t) of every step after the first of every CFG branch: request by request, step by
  // step, and at each step of a guided request the prompt branch's before the negative one's.
  std::vector<std::pair<double, double>> pairs;
  // The fitted p, highest power first, as TeaCacheOptions::coefficients takes it.
  std::vector<double> coefficients;
  // sqrt(mean((p(x_t) − y_t)²)) over the pairs.
  double rms_residual = 0;
  // 1 − Σ(p(x_t) − y_t)² / Σ(y_t − mean(y))²: the share of the output changes' variance that p
  // explains (1 for a perfect fit); NaN if every y_t is the same.
  double r_squared = 0;
};

// Runs `requests` (prompt, negative prompt, size, steps, guidance, seed as given) densely on
// `pipeline` and fits a polynomial of `degree` (the TeaCache authors use 4) to their changes. A
// request gives steps − 1 pairs per CFG branch: two branches if guidance_scale > 1, else one.
// INVALID_ARGUMENT, before anything runs, for no requests, a request that already carries a
// schedule or an acceleration policy, a request Pipeline::Validate rejects (e.g. on an engine
// group, where policies do not run), degree < 0, or fewer pairs than degree + 1; after the runs,
// for pairs that do not determine the polynomial (FitRescaleCoefficients). Errors of a run
// (RESOURCE_EXHAUSTED / INTERNAL) are returned with the request's index.
absl::StatusOr<TeaCacheCalibration> CalibrateTeaCache(
    const wan::Pipeline& pipeline, const std::vector<wan::GenerateRequest>& requests, int degree);

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_TEACACHE_CALIBRATION_H_
