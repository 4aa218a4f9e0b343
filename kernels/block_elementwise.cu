#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "kernels/block_elementwise_cuda.h"
#include "kernels/internal/cuda_elementwise.cuh"

namespace videogen::kernels {
namespace {

using internal::Aligned16;
using internal::BlockSum;
using internal::DeviceType;
using internal::Narrow;
using internal::Pack;
using internal::Widen;

constexpr int kThreads = 256;

// One block per row. The row (at most a few KB) is read three times; the re-reads hit L1/L2, so
// DRAM traffic is one read and one write. Products and sums use explicit round-to-nearest
// intrinsics so that nvcc does not contract them into FMAs, keeping diffusers' rounding.
template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    ModulatedLayerNormKernel(int64_t tokens, int64_t hidden, const T* input, LayerNormArgs args,
                             T* output) {
  using P = Pack<T, kVec>;
  __shared__ float shared[32];
  const int64_t row = blockIdx.x;
  const int64_t batch = row / tokens;
  const int64_t packs = hidden / kVec;
  const P* in = reinterpret_cast<const P*>(input + row * hidden);
  P* out = reinterpret_cast<P*>(output + row * hidden);

  float sum = 0;
  for (int64_t p = threadIdx.x; p < packs; p += kThreads) {
    const P x = in[p];
#pragma unroll
    for (int i = 0; i < kVec; ++i) sum += Widen(x.v[i]);
  }
  const float mean = BlockSum(sum, shared) / hidden;
  float squares = 0;
  for (int64_t p = threadIdx.x; p < packs; p += kThreads) {
    const P x = in[p];
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const float c = Widen(x.v[i]) - mean;
      squares += c * c;
    }
  }
  const float inv_std = rsqrtf(BlockSum(squares, shared) / hidden + args.eps);
  const float* scale = args.scale + batch * args.vector_stride;
  const float* shift = args.shift + batch * args.vector_stride;
  for (int64_t p = threadIdx.x; p < packs; p += kThreads) {
    const P x = in[p];
    P y;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const int64_t d = p * kVec + i;
      float v = __fmul_rn(Widen(x.v[i]) - mean, inv_std);
      if (args.weight != nullptr) v = __fadd_rn(__fmul_rn(v, args.weight[d]), args.bias[d]);
      if (args.scale != nullptr) v = __fadd_rn(__fmul_rn(v, 1.0f + scale[d]), shift[d]);
      y.v[i] = Narrow<T>(v);
    }
    out[p] = y;
  }
}

template <typename T, int kVec>
__global__ void GatedResidualKernel(int64_t tokens, int64_t hidden, const T* residual,
                                    const T* update, GatedResidualArgs args, T* output) {
  using P = Pack<T, kVec>;
  const int64_t row = blockIdx.x;
  const float* gate = args.gate + (row / tokens) * args.vector_stride;
  const P* r = reinterpret_cast<const P*>(residual + row * hidden);
  const P* u = reinterpret_cast<const P*>(update + row * hidden);
  P* out = reinterpret_cast<P*>(output + row * hidden);
  for (int64_t p = threadIdx.x; p < hidden / kVec; p += blockDim.x) {
    const P a = r[p], b = u[p];
    P y;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      float v = Widen(b.v[i]);
      if (args.gate != nullptr) v = __fmul_rn(v, gate[p * kVec + i]);
      y.v[i] = Narrow<T>(__fadd_rn(Widen(a.v[i]), v));
    }
    out[p] = y;
  }
}

absl::Status LaunchStatus(const char* op) {
  const cudaError_t error = cudaGetLastError();
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(op, " launch failed: ", cudaGetErrorString(error)));
}

}  // namespace

template <typename T>
absl::Status ModulatedLayerNormCuda(const RowsShape& shape, const T* input,
                                    const LayerNormArgs& args, T* output, CUstream_st* stream) {
  if (absl::Status s = ValidateLayerNormArgs(shape, input, args, output); !s.ok()) return s;
  const int64_t rows = shape.batch * shape.tokens;
  if (rows == 0) return absl::OkStatus();
  using D = typename DeviceType<T>::type;
  constexpr int kVec = 16 / sizeof(T);
  const D* in = reinterpret_cast<const D*>(input);
  D* out = reinterpret_cast<D*>(output);
  if (shape.hidden % kVec == 0 && Aligned16(input) && Aligned16(output)) {
    ModulatedLayerNormKernel<D, kVec><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        shape.tokens, shape.hidden, in, args, out);
  } else {
    ModulatedLayerNormKernel<D, 1><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        shape.tokens, shape.hidden, in, args, out);
  }
  return LaunchStatus("modulated layer norm");
}

template <typename T>
absl::Status GatedResidualCuda(const RowsShape& shape, const T* residual, const T* update,
                               const GatedResidualArgs& args, T* output, CUstream_st* stream) {
  if (absl::Status s = ValidateGatedResidualArgs(shape, residual, update, args, output); !s.ok()) {
    return s;
  }
  const int64_t rows = shape.batch * shape.tokens;
  if (rows == 0) return absl::OkStatus();
  using D = typename DeviceType<T>::type;
  constexpr int kVec = 16 / sizeof(T);
  const D* r = reinterpret_cast<const D*>(residual);
  const D* u = reinterpret_cast<const D*>(update);
  D* out = reinterpret_cast<D*>(output);
  if (shape.hidden % kVec == 0 && Aligned16(residual) && Aligned16(update) && Aligned16(output)) {
    const int threads =
        static_cast<int>(std::min<int64_t>(1024, (shape.hidden / kVec + 31) / 32 * 32));
    GatedResidualKernel<D, kVec><<<static_cast<unsigned>(rows), threads, 0, stream>>>(
        shape.tokens, shape.hidden, r, u, args, out);
  } else {
    GatedResidualKernel<D, 1><<<static_cast<unsigned>(rows), 256, 0, stream>>>(
        shape.tokens, shape.hidden, r, u, args, out);
  }
  return LaunchStatus("gated residual");
}

#define VG_INSTANTIATE(T)                                                                  \
  template absl::Status ModulatedLayerNormCuda<T>(const RowsShape&, const T*,              \
                                                  const LayerNormArgs&, T*, CUstream_st*); \
  template absl::Status GatedResidualCuda<T>(const RowsShape&, const T*, const T*,         \
                                             const GatedResidualArgs&, T*, CUstream_st*);
VG_INSTANTIATE(float)
VG_INSTANTIATE(BFloat16)
#undef VG_INSTANTIATE

}  // namespace videogen::kernels
