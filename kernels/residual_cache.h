// The last step of an ASTRAEA sparse block: merge the rows the block computed this step with the
// cached residuals of the tokens it skipped, and refresh the cache of the computed ones.
//
// For every token t of a [num_tokens, hidden] row-major buffer, with slot[t] naming its row in
// `computed` (the block's output for the tokens selected this step) or -1 if t was skipped:
//
//   slot[t] >= 0:  cache[t]  = computed[slot[t]] - input[t]
//                  output[t] = computed[slot[t]]
//   slot[t] <  0:  output[t] = input[t] + cache[t]          (cache[t] unchanged)
//
// Arithmetic is in float32 with one rounding to the element type per stored value, so the CPU
// reference and the CUDA kernel produce bit-identical results.
//
// Buffers must not overlap, except that `output` may alias `input` (in-place update of the hidden
// states). Every slot value must be -1 or in [0, num_computed); the CPU reference checks this, the
// CUDA kernel (residual_cache_cuda.h) trusts it (slots come from the selection step on the device).
#ifndef VIDEOGEN_KERNELS_RESIDUAL_CACHE_H_
#define VIDEOGEN_KERNELS_RESIDUAL_CACHE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/bfloat16.h"

namespace videogen::kernels {

struct ResidualCacheShape {
  int64_t num_tokens = 0;    // Rows of input, cache, output and slot.
  int64_t hidden = 0;        // Elements per row.
  int64_t num_computed = 0;  // Rows of computed.
};

// CPU reference, for T = float or BFloat16. INVALID_ARGUMENT for a bad shape, null buffer or
// out-of-range slot (nothing is written then).
template <typename T>
absl::Status ResidualCacheScatterReference(const ResidualCacheShape& shape, const T* input,
                                           const T* computed, const int32_t* slot, T* cache,
                                           T* output);

// Argument checks shared by the reference and the CUDA version (everything but slot values).
absl::Status ValidateResidualCacheArgs(const ResidualCacheShape& shape, const void* input,
                                       const void* computed, const int32_t* slot, const void* cache,
                                       const void* output);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_RESIDUAL_CACHE_H_
