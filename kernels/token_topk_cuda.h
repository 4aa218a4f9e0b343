// CUDA version of the token selection specified in token_topk.h. Built only under --config=cuda
// (target //kernels:token_topk_cuda).
#ifndef VIDEOGEN_KERNELS_TOKEN_TOPK_CUDA_H_
#define VIDEOGEN_KERNELS_TOKEN_TOPK_CUDA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/token_topk.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers.

namespace videogen::kernels {

// Same contract as TokenTopKReference on device buffers, enqueued on `stream` (nullptr: the
// legacy default stream). `keys` is scratch space for num_tokens uint32 values. Two launches: the
// scores (one thread per token), then the selection in one thread block (a radix select of the
// k-th largest score, then two block-wide scans for the tie ranks and the output positions).
// INVALID_ARGUMENT for bad arguments, INTERNAL if a launch fails.
absl::Status TokenTopKCuda(const TokenTopKShape& shape, const float* lse, const float* sketch_now,
                           const float* sketch_last, const int32_t* skip,
                           const TokenTopKParams& params, uint32_t* keys, int64_t* selected,
                           int32_t* slot, CUstream_st* stream);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_TOKEN_TOPK_CUDA_H_
