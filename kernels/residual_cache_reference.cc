#include "absl/strings/str_cat.h"
#include "kernels/residual_cache.h"

namespace videogen::kernels {
absl::Status ValidateResidualCacheArgs(const ResidualCacheShape& shape, const void* input,
                                       const void* computed, const int32_t* slot, const void* cache,
                                       const void* output) {
  if (shape.num_tokens < 0 || shape.hidden <= 0 || shape.num_computed < 0 ||
      shape.num_computed > shape.num_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("residual cache scatter: bad shape num_tokens=", shape.num_tokens,
                     " hidden=", shape.hidden, " num_computed=", shape.num_computed,
                     " (need num_tokens >= 0, hidden > 0, 0 <= num_computed <= num_tokens)"));
  }
  if (shape.num_tokens == 0) return absl::OkStatus();
  if (input == nullptr || slot == nullptr || cache == nullptr || output == nullptr ||
      (shape.num_computed > 0 && computed == nullptr)) {
    return absl::InvalidArgumentError("residual cache scatter: null buffer");
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status ResidualCacheScatterReference(const ResidualCacheShape& shape, const T* input,
                                           const T* computed, const int32_t* slot, T* cache,
                                           T* output) {
  if (absl::Status status = ValidateResidualCacheArgs(shape, input, computed, slot, cache, output);
      !status.ok()) {
    return status;
  }
  for (int64_t t = 0; t < shape.num_tokens; ++t) {
    if (slot[t] < -1 || slot[t] >= shape.num_computed) {
      return absl::InvalidArgumentError(absl::StrCat("residual cache scatter: slot[", t,
                                                     "] = ", slot[t], " is outside [-1, ",
                                                     shape.num_computed, ")"));
    }
  }
  for (int64_t t = 0; t < shape.num_tokens; ++t) {
    const int64_t row = t * shape.hidden;
    if (slot[t] >= 0) {
      const T* computed_row = computed + slot[t] * shape.hidden;
      for (int64_t d = 0; d < shape.hidden; ++d) {
        const float out = ToFloat(computed_row[d]);
        cache[row + d] = FromFloat<T>(out - ToFloat(input[row + d]));
        output[row + d] = computed_row[d];
      }
    } else {
      for (int64_t d = 0; d < shape.hidden; ++d) {
        output[row + d] = FromFloat<T>(ToFloat(input[row + d]) + ToFloat(cache[row + d]));
      }
    }
  }
  return absl::OkStatus();
}

template absl::Status ResidualCacheScatterReference<float>(const ResidualCacheShape&, const float*,
                                                           const float*, const int32_t*, float*,
                                                           float*);
template absl::Status ResidualCacheScatterReference<BFloat16>(const ResidualCacheShape&,
                                                              const BFloat16*, const BFloat16*,
                                                              const int32_t*, BFloat16*, BFloat16*);

}  // namespace videogen::kernels
