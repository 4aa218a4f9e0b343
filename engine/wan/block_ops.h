// Elementwise stages of a Wan transformer block, with diffusers' numerics:
//
//   ModulatedLayerNorm: T( LayerNorm_fp32(x) [* weight + bias] [* (1 + scale) + shift] )
//   GatedResidual:      T( float(residual) + float(update) * gate ), or residual + update
//   RmsNormRope:        RoPE( T( RMSNorm_fp32(x) * weight ) ), RoPE optional (q/k preparation)
//
// On CUDA tensors (float32 or bf16, contiguous) in builds with --config=cuda they run as one fused
// kernel each (kernels/block_elementwise.h); otherwise as the ATen operations diffusers performs,
// which makes the CPU path bit-identical to diffusers on the same LibTorch.
//
// Shapes: x, residual, update [B, S, D]; weight, bias [D] (either both or neither); scale, shift,
// gate [B, 1, D] float32 (undefined tensors mean "absent"). Throws c10::Error on bad input or a
// kernel failure (the engine's error boundary converts it).
#ifndef VIDEOGEN_ENGINE_WAN_BLOCK_OPS_H_
#define VIDEOGEN_ENGINE_WAN_BLOCK_OPS_H_

#include "ATen/core/Tensor.h"

namespace videogen::engine::wan {

at::Tensor ModulatedLayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              const at::Tensor& scale, const at::Tensor& shift, double eps);

at::Tensor GatedResidual(const at::Tensor& residual, const at::Tensor& update,
                         const at::Tensor& gate);

// x [B, S, D] (rows may be strided, e.g. a chunk of a fused q|k|v projection), weight [D] of x's
// dtype; cos/sin [1, S, 1, head_dim] float32 rotary tables, or undefined for no rotation (RoPE
// rotates consecutive pairs within each head). Returns a contiguous [B, S, D].
at::Tensor RmsNormRope(const at::Tensor& x, const at::Tensor& weight, double eps, int64_t head_dim,
                       const at::Tensor& cos, const at::Tensor& sin);

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_BLOCK_OPS_H_
