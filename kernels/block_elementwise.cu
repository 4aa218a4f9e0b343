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

// One block per row. With kPacks > 0 each thread keeps its (at most kPacks) packs of the row in
// registers between the mean, variance and output passes, and blocks are sized to the row, so
// many rows are in flight per SM; with kPacks = 0 (rows too long for that) the passes re-read
// the row, hitting L1/L2. Either way DRAM traffic is one read and one write. Products and sums
// use explicit round-to-nearest intrinsics so that nvcc does not contract them into FMAs,
// keeping diffusers' rounding.
template <typename T, int kVec, int kPacks>
__global__ void __launch_bounds__(1024)
    ModulatedLayerNormKernel(int64_t tokens, int64_t hidden, const T* input, LayerNormArgs args,
                             T* output) {
  using P = Pack<T, kVec>;
  __shared__ float shared[32];
  const int64_t row = blockIdx.x;
  const int64_t batch = row / tokens;
  const int64_t packs = hidden / kVec;
  const P* in = reinterpret_cast<const P*>(input + row * hidden);
  P* out = reinterpret_cast<P*>(output + row * hidden);
  P held[kPacks > 0 ? kPacks : 1];
  // Calls f(p, x) for each of this thread's packs p with its value x.
  auto for_each_pack = [&](auto&& f) {
    if constexpr (kPacks > 0) {
#pragma unroll
      for (int j = 0; j < kPacks; ++j) {
        const int64_t p = threadIdx.x + static_cast<int64_t>(j) * blockDim.x;
        if (p < packs) f(p, held[j]);
      }
    } else {
      for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) f(p, in[p]);
    }
  };
  if constexpr (kPacks > 0) {
#pragma unroll
    for (int j = 0; j < kPacks; ++j) {
      const int64_t p = threadIdx.x + static_cast<int64_t>(j) * blockDim.x;
      if (p < packs) held[j] = in[p];
    }
  }

  float sum = 0;
  for_each_pack([&](int64_t, const P& x) {
#pragma unroll
    for (int i = 0; i < kVec; ++i) sum += Widen(x.v[i]);
  });
  const float mean = BlockSum(sum, shared) / hidden;
  float squares = 0;
  for_each_pack([&](int64_t, const P& x) {
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const float c = Widen(x.v[i]) - mean;
      squares += c * c;
    }
  });
  const float inv_std = rsqrtf(BlockSum(squares, shared) / hidden + args.eps);
  const float* scale = args.scale + batch * args.vector_stride;
  const float* shift = args.shift + batch * args.vector_stride;
  for_each_pack([&](int64_t p, const P& x) {
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
  });
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
  // Rows of up to 1024 * kHeldPacks packs stay in registers (bf16: 32768 elements).
  constexpr int kHeldPacks = 4;
  const int64_t packs = shape.hidden / kVec;
  if (shape.hidden % kVec == 0 && Aligned16(input) && Aligned16(output) &&
      packs <= 1024 * kHeldPacks) {
    // The fewest whole warps that give each thread at most kHeldPacks packs.
    const int64_t threads = ((packs + kHeldPacks - 1) / kHeldPacks + 31) / 32 * 32;
    ModulatedLayerNormKernel<D, kVec, kHeldPacks>
        <<<static_cast<unsigned>(rows), static_cast<unsigned>(threads), 0, stream>>>(
            shape.tokens, shape.hidden, in, args, out);
  } else {
    ModulatedLayerNormKernel<D, 1, 0><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
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
