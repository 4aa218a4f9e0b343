#include "engine/wan/block_ops.h"

#include "ATen/ATen.h"
#include "engine/wan/internal/fused_block_ops.h"

namespace videogen::engine::wan {

at::Tensor ModulatedLayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              const at::Tensor& scale, const at::Tensor& shift, double eps) {
  if (auto fused = internal::TryFusedModulatedLayerNorm(x, weight, bias, scale, shift, eps)) {
    return *std::move(fused);
  }
  // diffusers: FP32LayerNorm on the upcast input, modulation in float32, one cast back.
  at::Tensor y = at::layer_norm(
      x.to(at::kFloat), {x.size(-1)},
      weight.defined() ? c10::optional<at::Tensor>(weight.to(at::kFloat)) : c10::nullopt,
      bias.defined() ? c10::optional<at::Tensor>(bias.to(at::kFloat)) : c10::nullopt, eps);
  if (scale.defined()) y = y * (1 + scale) + shift;
  return y.to(x.scalar_type());
}

at::Tensor GatedResidual(const at::Tensor& residual, const at::Tensor& update,
                         const at::Tensor& gate) {
  if (auto fused = internal::TryFusedGatedResidual(residual, update, gate)) {
    return *std::move(fused);
  }
  if (!gate.defined()) return residual + update;  // One rounding of the float32 sum.
  return (residual.to(at::kFloat) + update.to(at::kFloat) * gate).to(residual.scalar_type());
}

}  // namespace videogen::engine::wan
