// CUDA version of the RMSNorm + RoPE pass specified in rms_norm_rope.h. Built only under
// --config=cuda (target //kernels:rms_norm_rope_cuda).
#ifndef VIDEOGEN_KERNELS_RMS_NORM_ROPE_CUDA_H_
#define VIDEOGEN_KERNELS_RMS_NORM_ROPE_CUDA_H_

#include "absl/status/status.h"
#include "kernels/rms_norm_rope.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers.

namespace videogen::kernels {

// Same contract as RmsNormRopeReference on device buffers, enqueued on `stream`. One block per
// row; rows are read twice (the second time from cache). INVALID_ARGUMENT for bad arguments,
// INTERNAL if the launch fails.
template <typename T>
absl::Status RmsNormRopeCuda(const RowsShape& shape, const T* input, const T* weight,
                             const RmsNormRopeArgs& args, T* output, CUstream_st* stream);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_RMS_NORM_ROPE_CUDA_H_
