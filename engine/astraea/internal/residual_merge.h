// The fused CUDA path of the sparse transformer's residual-cache merge (kernels/residual_cache.h).
// Two implementations, picked by the build: residual_merge_cuda.cc (--config=cuda) and
// residual_merge_none.cc (no CUDA code: never fuses).
#ifndef VIDEOGEN_ENGINE_ASTRAEA_INTERNAL_RESIDUAL_MERGE_H_
#define VIDEOGEN_ENGINE_ASTRAEA_INTERNAL_RESIDUAL_MERGE_H_

#include "ATen/core/Tensor.h"

namespace videogen::engine::astraea::internal {

// For input, cache, output [N, D] and computed [k, D] (contiguous, one dtype, float32 or bf16, on
// one CUDA device) and slot [N] int32 (row of computed, or -1): output[t] = computed[slot[t]]
// and cache[t] = computed[slot[t]] - input[t] where slot[t] >= 0, else output[t] = input[t] +
// cache[t]. Returns false, touching nothing, if the tensors are not eligible.
bool TryFusedResidualMerge(const at::Tensor& input, const at::Tensor& computed,
                           const at::Tensor& slot, const at::Tensor& cache,
                           const at::Tensor& output);

}  // namespace videogen::engine::astraea::internal

#endif  // VIDEOGEN_ENGINE_ASTRAEA_INTERNAL_RESIDUAL_MERGE_H_
