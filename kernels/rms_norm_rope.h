// q/k preparation of Wan attention in one pass: RMSNorm across all heads, then rotary position
// embedding (RoPE) of each head's consecutive pairs, as diffusers computes them:
//
//   n = T( x * rsqrt(mean(x^2) + eps) * weight )                  (float32, one rounding)
//   out[2i]   = T( n[2i] * cos[2i]   - n[2i+1] * sin[2i+1] )
//   out[2i+1] = T( n[2i] * sin[2i+1] + n[2i+1] * cos[2i]   )      (within each head)
//
// `input` rows may be strided (e.g. the q part of a fused q|k|v projection): row r starts at
// input + r * input_row_stride. cos/sin are float32 [tokens, head_dim] (the same table for every
// batch and head); null cos/sin means RMSNorm only (cross-attention). `output` is contiguous
// [batch, tokens, hidden]. CPU reference here; CUDA version in rms_norm_rope_cuda.h.
#ifndef VIDEOGEN_KERNELS_RMS_NORM_ROPE_H_
#define VIDEOGEN_KERNELS_RMS_NORM_ROPE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/bfloat16.h"
#include "kernels/block_elementwise.h"

namespace videogen::kernels {

struct RmsNormRopeArgs {
  int64_t head_dim = 0;          // Divides hidden; even.
  int64_t input_row_stride = 0;  // Elements between consecutive rows of input (>= hidden).
  float eps = 1e-6f;
  const float* cos = nullptr;  // [tokens, head_dim] or null.
  const float* sin = nullptr;
};

// INVALID_ARGUMENT for bad shapes/strides, null tensors or a half-given cos/sin pair.
absl::Status ValidateRmsNormRopeArgs(const RowsShape& shape, const void* input, const void* weight,
                                     const RmsNormRopeArgs& args, const void* output);

// T = float or BFloat16; `weight` has `hidden` elements of T.
template <typename T>
absl::Status RmsNormRopeReference(const RowsShape& shape, const T* input, const T* weight,
                                  const RmsNormRopeArgs& args, T* output);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_RMS_NORM_ROPE_H_
