#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "kernels/internal/cuda_elementwise.cuh"
#include "kernels/residual_cache_cuda.h"

namespace videogen::kernels {
namespace {

using internal::Aligned16;
using internal::DeviceType;
using internal::Narrow;
using internal::Pack;
using internal::Widen;

// One block per token row; the block's threads stride over the row in packs of kVec elements.
// Each row reads its input and either the cache or the computed row, and writes the output (and
// the cache for computed rows): the minimum traffic for this merge.
template <typename T, int kVec>
__global__ void ResidualCacheScatterKernel(int64_t hidden, const T* input,
                                           const T* __restrict__ computed,
                                           const int32_t* __restrict__ slot, T* __restrict__ cache,
                                           T* output) {
  using P = Pack<T, kVec>;
  const int64_t token = blockIdx.x;
  const int32_t s = slot[token];
  const int64_t packs = hidden / kVec;
  // `output` may alias `input`: each element is read before it is written, by the same thread.
  const P* in_row = reinterpret_cast<const P*>(input + token * hidden);
  P* out_row = reinterpret_cast<P*>(output + token * hidden);
  P* cache_row = reinterpret_cast<P*>(cache + token * hidden);
  if (s >= 0) {
    const P* computed_row = reinterpret_cast<const P*>(computed + static_cast<int64_t>(s) * hidden);
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const P in = in_row[p];
      const P out = computed_row[p];
      P residual;
#pragma unroll
      for (int i = 0; i < kVec; ++i) residual.v[i] = Narrow<T>(Widen(out.v[i]) - Widen(in.v[i]));
      cache_row[p] = residual;
      out_row[p] = out;
    }
  } else {
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const P in = in_row[p];
      const P residual = cache_row[p];
      P out;
#pragma unroll
      for (int i = 0; i < kVec; ++i) out.v[i] = Narrow<T>(Widen(in.v[i]) + Widen(residual.v[i]));
      out_row[p] = out;
    }
  }
}

template <typename D, int kVec>
cudaError_t Launch(const ResidualCacheShape& shape, const D* input, const D* computed,
                   const int32_t* slot, D* cache, D* output, cudaStream_t stream) {
  const int64_t packs = shape.hidden / kVec;
  const int threads = static_cast<int>(std::min<int64_t>(1024, (packs + 31) / 32 * 32));
  ResidualCacheScatterKernel<D, kVec>
      <<<static_cast<unsigned>(shape.num_tokens), threads, 0, stream>>>(
          shape.hidden, input, computed, slot, cache, output);
  return cudaGetLastError();
}

}  // namespace

template <typename T>
absl::Status ResidualCacheScatterCuda(const ResidualCacheShape& shape, const T* input,
                                      const T* computed, const int32_t* slot, T* cache, T* output,
                                      CUstream_st* stream) {
  if (absl::Status status = ValidateResidualCacheArgs(shape, input, computed, slot, cache, output);
      !status.ok()) {
    return status;
  }
  if (shape.num_tokens == 0) return absl::OkStatus();
  if (shape.num_tokens > INT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("residual cache scatter: num_tokens=", shape.num_tokens, " exceeds 2^31-1"));
  }
  using D = typename DeviceType<T>::type;
  constexpr int kVec = 16 / sizeof(T);
  const D* d_input = reinterpret_cast<const D*>(input);
  const D* d_computed = reinterpret_cast<const D*>(computed);
  D* d_cache = reinterpret_cast<D*>(cache);
  D* d_output = reinterpret_cast<D*>(output);
  const bool vectorized = shape.hidden % kVec == 0 && Aligned16(input) &&
                          (computed == nullptr || Aligned16(computed)) && Aligned16(cache) &&
                          Aligned16(output);
  const cudaError_t error =
      vectorized ? Launch<D, kVec>(shape, d_input, d_computed, slot, d_cache, d_output, stream)
                 : Launch<D, 1>(shape, d_input, d_computed, slot, d_cache, d_output, stream);
  if (error != cudaSuccess) {
    return absl::InternalError(
        absl::StrCat("residual cache scatter launch failed: ", cudaGetErrorString(error)));
  }
  return absl::OkStatus();
}

template absl::Status ResidualCacheScatterCuda<float>(const ResidualCacheShape&, const float*,
                                                      const float*, const int32_t*, float*, float*,
                                                      CUstream_st*);
template absl::Status ResidualCacheScatterCuda<BFloat16>(const ResidualCacheShape&, const BFloat16*,
                                                         const BFloat16*, const int32_t*, BFloat16*,
                                                         BFloat16*, CUstream_st*);

}  // namespace videogen::kernels
