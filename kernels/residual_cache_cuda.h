// CUDA version of the residual-cache merge specified in residual_cache.h. Built only under
// --config=cuda (target //kernels:residual_cache_cuda).
#ifndef VIDEOGEN_KERNELS_RESIDUAL_CACHE_CUDA_H_
#define VIDEOGEN_KERNELS_RESIDUAL_CACHE_CUDA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/residual_cache.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers.

namespace videogen::kernels {

// Same contract as ResidualCacheScatterReference, on device buffers, enqueued on `stream`
// (nullptr: the legacy default stream), for T = float or BFloat16. Returns INVALID_ARGUMENT for a
// bad shape or null buffer and INTERNAL if the launch fails; faults inside the kernel surface at
// the next synchronisation of the stream. Rows are moved 16 bytes at a time when `hidden` and the
// buffers allow it.
template <typename T>
absl::Status ResidualCacheScatterCuda(const ResidualCacheShape& shape, const T* input,
                                      const T* computed, const int32_t* slot, T* cache, T* output,
                                      CUstream_st* stream);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_RESIDUAL_CACHE_CUDA_H_
