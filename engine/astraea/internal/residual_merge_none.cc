#include "engine/astraea/internal/residual_merge.h"

namespace videogen::engine::astraea::internal {

bool TryFusedResidualMerge(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                           const at::Tensor&, const at::Tensor&) {
  return false;
}

}  // namespace videogen::engine::astraea::internal
