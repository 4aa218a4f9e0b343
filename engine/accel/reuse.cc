#include "engine/accel/reuse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace videogen::engine::accel {

absl::Status ValidateSteps(int steps) {
  if (steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("a job needs at least one step, got ", steps));
  }
  return absl::OkStatus();
}

std::string FormatNumber(double value) {
  // The longest form, e.g. "-2.2250738585072014e-308" or "-9007199254740991", has 24 characters.
  char buffer[32];
  // Whole numbers below 2^53 (every one exact) as integers, which the shortest form would write
  // in exponent notation from 100000 ("1e+05") on.
  const bool integer = std::abs(value) < 0x1p53 && std::trunc(value) == value;
  const std::to_chars_result result =
      integer ? std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed)
              : std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (result.ec != std::errc()) return absl::StrCat(value);  // Unreachable: the buffer fits.
  return std::string(buffer, result.ptr);
}

int64_t CeilFraction(double fraction, int64_t count) {
  const double product = fraction * static_cast<double>(count);
  const double nearest = std::round(product);
  if (std::abs(product - nearest) <= 1e-9 * std::max(1.0, product)) {
    return static_cast<int64_t>(nearest);
  }
  return static_cast<int64_t>(std::ceil(product));
}

int64_t BranchesBytes(const wan::Transformer::Branches& branches) {
  int64_t bytes = 0;
  for (const at::Tensor* t :
       {&branches.self_attention, &branches.cross_attention, &branches.feed_forward}) {
    if (t->defined()) bytes += t->nbytes();
  }
  return bytes;
}

}  // namespace videogen::engine::accel
