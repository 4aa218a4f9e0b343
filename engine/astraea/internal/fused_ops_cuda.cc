#include "ATen/ATen.h"
#include "c10/cuda/CUDAStream.h"
#include "engine/astraea/internal/fused_ops.h"
#include "kernels/residual_cache_cuda.h"
#include "kernels/token_topk_cuda.h"

namespace videogen::engine::astraea::internal {
namespace {

CUstream_st* StreamOf(const at::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

bool Eligible(const at::Tensor& t, const at::Tensor& like, c10::ScalarType dtype) {
  return t.is_cuda() && t.device() == like.device() && t.scalar_type() == dtype &&
         t.is_contiguous();
}

}  // namespace

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
  CUstream_st* stream = StreamOf(input);
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

bool TryFusedTokenTopK(const at::Tensor& lse, const at::Tensor& sketch_now,
                       const at::Tensor& sketch_last, const at::Tensor& skip,
                       const kernels::TokenTopKParams& params, const at::Tensor& selected,
                       const at::Tensor& slot) {
  const int64_t n = lse.numel();
  if (!Eligible(lse, lse, at::kFloat) || !Eligible(sketch_now, lse, at::kFloat) ||
      !Eligible(sketch_last, lse, at::kFloat) || !Eligible(skip, lse, at::kInt) ||
      !Eligible(selected, lse, at::kLong) || !Eligible(slot, lse, at::kInt) ||
      sketch_now.dim() != 2 || sketch_now.size(0) != n ||
      !sketch_last.sizes().equals(sketch_now.sizes()) || skip.numel() != n || slot.numel() != n) {
    return false;
  }
  const at::Tensor keys = at::empty({n}, lse.options().dtype(at::kInt));
  const absl::Status status = kernels::TokenTopKCuda(
      {n, sketch_now.size(1), selected.numel()}, lse.data_ptr<float>(),
      sketch_now.data_ptr<float>(), sketch_last.data_ptr<float>(), skip.data_ptr<int32_t>(), params,
      reinterpret_cast<uint32_t*>(keys.data_ptr<int32_t>()), selected.data_ptr<int64_t>(),
      slot.data_ptr<int32_t>(), StreamOf(lse));
  TORCH_CHECK(status.ok(), status.ToString());
  return true;
}

}  // namespace videogen::engine::astraea::internal
