#include "engine/astraea/internal/fused_ops.h"

namespace videogen::engine::astraea::internal {

bool TryFusedResidualMerge(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                           const at::Tensor&, const at::Tensor&) {
  return false;
}

bool TryFusedTokenTopK(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                       const kernels::TokenTopKParams&, const at::Tensor&, const at::Tensor&) {
  return false;
}

}  // namespace videogen::engine::astraea::internal
