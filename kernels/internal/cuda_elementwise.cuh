// Device helpers shared by the elementwise kernels: the host-to-device element type map,
// float32 widening/rounding, 16-byte packs, and a block-wide sum. Include only from .cu files.
#ifndef VIDEOGEN_KERNELS_INTERNAL_CUDA_ELEMENTWISE_CUH_
#define VIDEOGEN_KERNELS_INTERNAL_CUDA_ELEMENTWISE_CUH_

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/bfloat16.h"

namespace videogen::kernels::internal {

// Host element type -> device element type (same bits).
template <typename T>
struct DeviceType {
  using type = T;
};
template <>
struct DeviceType<BFloat16> {
  using type = __nv_bfloat16;
};
static_assert(sizeof(BFloat16) == sizeof(__nv_bfloat16), "bf16 layouts must match");

__device__ __forceinline__ float Widen(float v) { return v; }
__device__ __forceinline__ float Widen(__nv_bfloat16 v) { return __bfloat162float(v); }

// Round to nearest even, as the host's FromFloat<T>.
template <typename T>
__device__ __forceinline__ T Narrow(float v);
template <>
__device__ __forceinline__ float Narrow<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 Narrow<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// kVec consecutive elements moved as one aligned access (16 bytes on the fast path).
template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

inline bool Aligned16(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % 16 == 0;
}

// Sum of `value` over the block (blockDim.x a multiple of 32, at most 1024); every thread gets
// the result. `shared` holds 32 floats; calls may follow each other.
__device__ __forceinline__ float BlockSum(float value, float* shared) {
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffff, value, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // A previous call may still be reading `shared`.
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  value = lane < blockDim.x / 32 ? shared[lane] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync(0xffffffff, value, offset);
  return value;
}

}  // namespace videogen::kernels::internal

#endif  // VIDEOGEN_KERNELS_INTERNAL_CUDA_ELEMENTWISE_CUH_
