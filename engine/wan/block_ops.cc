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

namespace {

// Rotates consecutive pairs (x[2i], x[2i+1]) of x [B, S, H, d] by the angles in cos/sin
// [1, S, 1, d]: float32 arithmetic, one rounding to x's dtype (diffusers' apply_rotary_emb).
at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos_table,
                     const at::Tensor& sin_table) {
  const at::Tensor pairs = x.unflatten(-1, {-1, 2});
  const at::Tensor x1 = pairs.select(-1, 0);
  const at::Tensor x2 = pairs.select(-1, 1);
  const at::Tensor cos = cos_table.slice(-1, 0, c10::nullopt, 2);
  const at::Tensor sin = sin_table.slice(-1, 1, c10::nullopt, 2);
  at::Tensor out = at::empty_like(x);
  out.slice(-1, 0, c10::nullopt, 2).copy_(x1 * cos - x2 * sin);
  out.slice(-1, 1, c10::nullopt, 2).copy_(x1 * sin + x2 * cos);
  return out;
}

}  // namespace

at::Tensor RmsNormRope(const at::Tensor& x, const at::Tensor& weight, double eps, int64_t head_dim,
                       const at::Tensor& cos, const at::Tensor& sin) {
  if (auto fused = internal::TryFusedRmsNormRope(x, weight, eps, head_dim, cos, sin)) {
    return *std::move(fused);
  }
  const at::Tensor normed = at::rms_norm(x, {x.size(-1)}, weight, eps);
  if (!cos.defined()) return normed.contiguous();
  return ApplyRope(normed.unflatten(-1, {-1, head_dim}), cos, sin).flatten(-2);
}

}  // namespace videogen::engine::wan
