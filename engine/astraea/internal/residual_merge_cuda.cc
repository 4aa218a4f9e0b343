#include "ATen/ATen.h"
#include "c10/cuda/CUDAStream.h"
#include "engine/astraea/internal/residual_merge.h"
#include "kernels/residual_cache_cuda.h"

namespace videogen::engine::astraea::internal {

bool TryFusedResidualMerge(const at::Tensor& input, const at::Tensor& computed,
                           const at::Tensor& slot, const at::Tensor& cache,
                           const at::Tensor& output) {
  const c10::ScalarType dtype = input.scalar_type();
  for (const at::Tensor* t : {&input, &computed, &cache, &output}) {
    if (!t->is_cuda() || t->device() != input.device() || t->scalar_type() != dtype ||
        t->dim() != 2 || !t->is_contiguous() || t->size(1) != input.size(1)) {
      return false;
    }
  }
  if ((dtype != at::kFloat && dtype != at::kBFloat16) || slot.device() != input.device() ||
      slot.scalar_type() != at::kInt || !slot.is_contiguous() || slot.numel() != input.size(0) ||
      cache.size(0) != input.size(0) || output.size(0) != input.size(0)) {
    return false;
  }
  const kernels::ResidualCacheShape shape{input.size(0), input.size(1), computed.size(0)};
  CUstream_st* stream = c10::cuda::getCurrentCUDAStream(input.device().index()).stream();
  absl::Status status;
  if (dtype == at::kFloat) {
    status = kernels::ResidualCacheScatterCuda<float>(
        shape, input.data_ptr<float>(), computed.data_ptr<float>(), slot.data_ptr<int32_t>(),
        cache.data_ptr<float>(), output.data_ptr<float>(), stream);
  } else {
    using kernels::BFloat16;
    auto bf16 = [](const at::Tensor& t) { return reinterpret_cast<BFloat16*>(t.data_ptr()); };
    status = kernels::ResidualCacheScatterCuda<BFloat16>(shape, bf16(input), bf16(computed),
                                                         slot.data_ptr<int32_t>(), bf16(cache),
                                                         bf16(output), stream);
  }
  TORCH_CHECK(status.ok(), status.ToString());
  return true;
}

}  // namespace videogen::engine::astraea::internal
