// Fused elementwise stages of a Wan transformer block (diffusers' WanTransformerBlock), which
// ATen would run as 5-8 separate passes with float32 temporaries.
//
// Tensors are row-major [batch, tokens, hidden] of element type T (float or BFloat16); per-batch
// vectors (scale, shift, gate) are float32 rows of `hidden` elements, `vector_stride` elements
// apart from one batch to the next (they are slices of the [B, 6, D] modulation table). Every
// result is computed in float32 and rounded once to T, in diffusers' order of operations.
//
// Each operation has a CPU reference (block_elementwise_reference.cc) and a CUDA version
// (block_elementwise_cuda.h, --config=cuda) tested against it.
#ifndef VIDEOGEN_KERNELS_BLOCK_ELEMENTWISE_H_
#define VIDEOGEN_KERNELS_BLOCK_ELEMENTWISE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/bfloat16.h"

namespace videogen::kernels {

struct RowsShape {
  int64_t batch = 0;
  int64_t tokens = 0;
  int64_t hidden = 0;
};

// output = T( LN(input) [* weight + bias] [* (1 + scale[b]) + shift[b]] )
// LN: float32 mean and biased variance over `hidden`, then (x - mean) / sqrt(var + eps).
// `weight`/`bias` ([hidden] float32) are both set or both null (affine or not); `scale`/`shift`
// likewise (modulated or not). `output` may alias `input`.
struct LayerNormArgs {
  float eps = 1e-6f;
  const float* weight = nullptr;
  const float* bias = nullptr;
  const float* scale = nullptr;
  const float* shift = nullptr;
  int64_t vector_stride = 0;  // Between batches, for scale and shift.
};

// output = T( float(residual) + float(update) * gate[b] ), or without the product when `gate` is
// null (a plain add rounded once). `output` may alias `residual`.
struct GatedResidualArgs {
  const float* gate = nullptr;
  int64_t vector_stride = 0;  // Between batches, for gate.
};

// CPU references. INVALID_ARGUMENT for bad shapes, null tensors or half-given pairs.
template <typename T>
absl::Status ModulatedLayerNormReference(const RowsShape& shape, const T* input,
                                         const LayerNormArgs& args, T* output);
template <typename T>
absl::Status GatedResidualReference(const RowsShape& shape, const T* residual, const T* update,
                                    const GatedResidualArgs& args, T* output);

// Argument checks shared by the reference and the CUDA versions.
absl::Status ValidateLayerNormArgs(const RowsShape& shape, const void* input,
                                   const LayerNormArgs& args, const void* output);
absl::Status ValidateGatedResidualArgs(const RowsShape& shape, const void* residual,
                                       const void* update, const GatedResidualArgs& args,
                                       const void* output);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_BLOCK_ELEMENTWISE_H_
