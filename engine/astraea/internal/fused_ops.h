// The CUDA kernels of the sparse transformer: the residual-cache merge (kernels/residual_cache.h)
// and the token selection (kernels/token_topk.h). Two implementations, picked by the build:
// fused_ops_cuda.cc (--config=cuda) and fused_ops_none.cc (no CUDA code: never fuses).
#ifndef VIDEOGEN_ENGINE_ASTRAEA_INTERNAL_FUSED_OPS_H_
#define VIDEOGEN_ENGINE_ASTRAEA_INTERNAL_FUSED_OPS_H_

#include "ATen/core/Tensor.h"
#include "kernels/token_topk.h"

namespace videogen::engine::astraea::internal {

// For input, cache, output [N, D] and computed [k, D] (contiguous, one dtype, float32 or bf16, on
// one CUDA device) and slot [N] int32 (row of computed, or -1): output[t] = computed[slot[t]]
// and cache[t] = computed[slot[t]] - input[t] where slot[t] >= 0, else output[t] = input[t] +
// cache[t]. Returns false, touching nothing, if the tensors are not eligible.
bool TryFusedResidualMerge(const at::Tensor& input, const at::Tensor& computed,
                           const at::Tensor& slot, const at::Tensor& cache,
                           const at::Tensor& output);

// kernels/token_topk.h on CUDA tensors: lse [N] float32, sketches [N, r] float32, skip [N] int32
// (contiguous, one device) into selected [k] int64 and slot [N] int32. Returns false, touching
// nothing, if the tensors are not eligible.
bool TryFusedTokenTopK(const at::Tensor& lse, const at::Tensor& sketch_now,
                       const at::Tensor& sketch_last, const at::Tensor& skip,
                       const kernels::TokenTopKParams& params, const at::Tensor& selected,
                       const at::Tensor& slot);

}  // namespace videogen::engine::astraea::internal

#endif  // VIDEOGEN_ENGINE_ASTRAEA_INTERNAL_FUSED_OPS_H_
