// Helpers shared by the acceleration policies (policy.h): step and number handling for all of
// them, and the branch-output bookkeeping of those that reuse outputs through
// Transformer::BlockWithCache (PAB, ToCa).
#ifndef VIDEOGEN_ENGINE_ACCEL_REUSE_H_
#define VIDEOGEN_ENGINE_ACCEL_REUSE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

// OK for a job of at least one step, else INVALID_ARGUMENT naming `steps` (Policy::Start).
absl::Status ValidateSteps(int steps);

// `value` as a number that reads back (std::strtod, absl::SimpleAtod) as exactly `value`: the
// numbers of Policy::Describe(). Whole numbers of magnitude below 2^53 print as integers ("2",
// "-1", "100000"); any other value in the shortest form that reads back exactly
// (std::to_chars), in whichever notation is shorter: "0.15", "0.30000000000000004", "1e-05",
// "1e+20". (absl::StrCat keeps 6 significant digits, which loses most doubles.) Infinities and
// NaN print as "inf", "-inf", "nan" or "-nan", which are no numbers of Describe()'s grammar; the
// policies reject them in their options.
std::string FormatNumber(double value);

// ceil(fraction · count) for a fraction in [0, 1] and count >= 0, with a product within 1e-9
// (relative) of an integer taken as that integer: settings written as decimals are not exact in
// binary ((1 − 0.85) · 20 evaluates to 3.0000000000000004), and their decimal value is meant.
int64_t CeilFraction(double fraction, int64_t count);

// Bytes held by the defined tensors of `branches`.
int64_t BranchesBytes(const wan::Transformer::Branches& branches);

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_REUSE_H_
