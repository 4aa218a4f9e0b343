#include "engine/wan/internal/fused_block_ops.h"

namespace videogen::engine::wan::internal {

std::optional<at::Tensor> TryFusedModulatedLayerNorm(const at::Tensor&, const at::Tensor&,
                                                     const at::Tensor&, const at::Tensor&,
                                                     const at::Tensor&, double) {
  return std::nullopt;
}

std::optional<at::Tensor> TryFusedGatedResidual(const at::Tensor&, const at::Tensor&,
                                                const at::Tensor&) {
  return std::nullopt;
}

std::optional<at::Tensor> TryFusedRmsNormRope(const at::Tensor&, const at::Tensor&, double, int64_t,
                                              const at::Tensor&, const at::Tensor&) {
  return std::nullopt;
}

}  // namespace videogen::engine::wan::internal
