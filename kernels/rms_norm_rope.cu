#include <cuda_runtime.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "kernels/internal/cuda_elementwise.cuh"
#include "kernels/rms_norm_rope_cuda.h"

namespace videogen::kernels {
namespace {

using internal::Aligned16;
using internal::BlockSum;
using internal::DeviceType;
using internal::Narrow;
using internal::Pack;
using internal::Widen;

constexpr int kThreads = 256;

// kVec is even, so a pack holds whole rotation pairs, and head_dim % kVec == 0 keeps a pack
// inside one head. Products and sums use round-to-nearest intrinsics (no FMA contraction) to
// reproduce ATen's separate multiply and subtract.
template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    RmsNormRopeKernel(int64_t tokens, int64_t hidden, const T* input, const T* weight,
                      RmsNormRopeArgs args, T* output) {
  using P = Pack<T, kVec>;
  __shared__ float shared[32];
  const int64_t row = blockIdx.x;
  const P* in = reinterpret_cast<const P*>(input + row * args.input_row_stride);
  const P* w = reinterpret_cast<const P*>(weight);
  P* out = reinterpret_cast<P*>(output + row * hidden);
  const int64_t packs = hidden / kVec;

  float squares = 0;
  for (int64_t p = threadIdx.x; p < packs; p += kThreads) {
    const P x = in[p];
#pragma unroll
    for (int i = 0; i < kVec; ++i) squares += Widen(x.v[i]) * Widen(x.v[i]);
  }
  const float inv_rms = rsqrtf(BlockSum(squares, shared) / hidden + args.eps);
  const int64_t token = row % tokens;
  for (int64_t p = threadIdx.x; p < packs; p += kThreads) {
    const P x = in[p];
    const P g = w[p];
    float n[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      n[i] = Widen(Narrow<T>(__fmul_rn(__fmul_rn(Widen(x.v[i]), inv_rms), Widen(g.v[i]))));
    }
    P y;
    if (args.cos == nullptr) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) y.v[i] = Narrow<T>(n[i]);
    } else {
      const int64_t column = (p * kVec) % args.head_dim;
      const float* cos = args.cos + token * args.head_dim + column;
      const float* sin = args.sin + token * args.head_dim + column;
#pragma unroll
      for (int i = 0; i < kVec; i += 2) {
        y.v[i] = Narrow<T>(__fsub_rn(__fmul_rn(n[i], cos[i]), __fmul_rn(n[i + 1], sin[i + 1])));
        y.v[i + 1] = Narrow<T>(__fadd_rn(__fmul_rn(n[i], sin[i + 1]), __fmul_rn(n[i + 1], cos[i])));
      }
    }
    out[p] = y;
  }
}

}  // namespace

template <typename T>
absl::Status RmsNormRopeCuda(const RowsShape& shape, const T* input, const T* weight,
                             const RmsNormRopeArgs& args, T* output, CUstream_st* stream) {
  if (absl::Status s = ValidateRmsNormRopeArgs(shape, input, weight, args, output); !s.ok()) {
    return s;
  }
  const int64_t rows = shape.batch * shape.tokens;
  if (rows == 0) return absl::OkStatus();
  using D = typename DeviceType<T>::type;
  constexpr int kVec = 16 / sizeof(T);
  const D* in = reinterpret_cast<const D*>(input);
  const D* w = reinterpret_cast<const D*>(weight);
  D* out = reinterpret_cast<D*>(output);
  const bool vectorized = args.head_dim % kVec == 0 && args.input_row_stride % kVec == 0 &&
                          Aligned16(input) && Aligned16(weight) && Aligned16(output);
  if (vectorized) {
    RmsNormRopeKernel<D, kVec><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        shape.tokens, shape.hidden, in, w, args, out);
  } else {
    RmsNormRopeKernel<D, 2><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        shape.tokens, shape.hidden, in, w, args, out);
  }
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) {
    return absl::InternalError(
        absl::StrCat("rms norm rope launch failed: ", cudaGetErrorString(error)));
  }
  return absl::OkStatus();
}

template absl::Status RmsNormRopeCuda<float>(const RowsShape&, const float*, const float*,
                                             const RmsNormRopeArgs&, float*, CUstream_st*);
template absl::Status RmsNormRopeCuda<BFloat16>(const RowsShape&, const BFloat16*, const BFloat16*,
                                                const RmsNormRopeArgs&, BFloat16*, CUstream_st*);

}  // namespace videogen::kernels
