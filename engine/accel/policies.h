// Acceleration policies by name: the text form a request or a benchmark names a policy with,
//
//   NAME                          the policy with its defaults (the seed's first Wan setting)
//   NAME(key=value,...)           with some settings given; the others keep their defaults
//
// values being numbers or bracketed lists of numbers ("[1.5,-2,0]"); whitespace is ignored.
//
//   pab(self=2,cross=6,untouched=0.15)                PabOptions (pab.h)
//   toca(interval=2,reuse=0.8)                        TocaOptions (toca.h)
//   delta_dit(switch=25,interval=3,start=5,end=45,blocks=10)
//                                                     DeltaDitOptions (delta_dit.h)
//   teacache(threshold=0.1,coefficients=[1,0])        TeaCacheOptions (teacache.h)
//
// Every Policy::Describe() is in this form with all settings, so ParsePolicy(p.Describe())
// rebuilds p. Settings are in engine/accel/README.md.
#ifndef VIDEOGEN_ENGINE_ACCEL_POLICIES_H_
#define VIDEOGEN_ENGINE_ACCEL_POLICIES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/accel/policy.h"

namespace videogen::engine::accel {

// The policy `spec` names. INVALID_ARGUMENT naming the problem: an unknown policy or setting, a
// setting given twice, a malformed value or spec, or settings the policy's Create() rejects.
absl::StatusOr<std::shared_ptr<const Policy>> ParsePolicy(absl::string_view spec);

// The names ParsePolicy() knows, in the order above.
const std::vector<std::string>& PolicyNames();

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_POLICIES_H_
