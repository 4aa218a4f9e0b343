// The fused CUDA path of block_ops.h. Two implementations, picked by the build:
// fused_block_ops_cuda.cc (--config=cuda) and fused_block_ops_none.cc (no CUDA code: never fuses).
#ifndef VIDEOGEN_ENGINE_WAN_INTERNAL_FUSED_BLOCK_OPS_H_
#define VIDEOGEN_ENGINE_WAN_INTERNAL_FUSED_BLOCK_OPS_H_

#include <optional>

#include "ATen/core/Tensor.h"

namespace videogen::engine::wan::internal {

// The fused result, or nullopt if the inputs are not eligible (not CUDA, other dtype, strides).
std::optional<at::Tensor> TryFusedModulatedLayerNorm(const at::Tensor& x, const at::Tensor& weight,
                                                     const at::Tensor& bias,
                                                     const at::Tensor& scale,
                                                     const at::Tensor& shift, double eps);
std::optional<at::Tensor> TryFusedGatedResidual(const at::Tensor& residual,
                                                const at::Tensor& update, const at::Tensor& gate);
std::optional<at::Tensor> TryFusedRmsNormRope(const at::Tensor& x, const at::Tensor& weight,
                                              double eps, int64_t head_dim, const at::Tensor& cos,
                                              const at::Tensor& sin);

}  // namespace videogen::engine::wan::internal

#endif  // VIDEOGEN_ENGINE_WAN_INTERNAL_FUSED_BLOCK_OPS_H_
