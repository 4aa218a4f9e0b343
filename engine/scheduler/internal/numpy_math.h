// Float64 helpers that reproduce the NumPy arithmetic diffusers uses to build sigma grids, one
// IEEE operation at a time (the libraries that include this are compiled with
// -ffp-contract=off so that no multiply-add is fused).
#ifndef VIDEOGEN_ENGINE_SCHEDULER_INTERNAL_NUMPY_MATH_H_
#define VIDEOGEN_ENGINE_SCHEDULER_INTERNAL_NUMPY_MATH_H_

#include <cstdint>
#include <vector>

namespace videogen::engine::scheduler::internal {

// numpy.linspace(start, stop, num) in float64 (endpoint included): start + j*step with the last
// value set to stop exactly.
inline std::vector<double> NumpyLinspace(double start, double stop, int64_t num) {
  std::vector<double> values(num);
  const double delta = stop - start;
  const int64_t div = num - 1;
  if (div <= 0) {
    // NumPy multiplies by delta (its step is undefined) and adds start.
    for (double& value : values) value = 0.0 * delta + start;
    return values;
  }
  const double step = delta / static_cast<double>(div);
  for (int64_t j = 0; j < num; ++j) {
    const double index = static_cast<double>(j);
    // A zero step (denormal range) is computed as (j / div) * delta, as NumPy does.
    const double scaled = step == 0 ? index / static_cast<double>(div) * delta : index * step;
    values[j] = scaled + start;
  }
  values[num - 1] = stop;
  return values;
}

// The static time shift of flow matching, s*sigma / (1 + (s-1)*sigma), in the operation order of
// diffusers' `shift * sigmas / (1 + (shift - 1) * sigmas)` on float64 arrays.
inline double ShiftSigma(double shift, double sigma) {
  const double numerator = shift * sigma;
  const double scaled = (shift - 1.0) * sigma;
  const double denominator = 1.0 + scaled;
  return numerator / denominator;
}

}  // namespace videogen::engine::scheduler::internal

#endif  // VIDEOGEN_ENGINE_SCHEDULER_INTERNAL_NUMPY_MATH_H_
