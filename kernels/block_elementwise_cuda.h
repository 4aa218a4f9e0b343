// CUDA versions of the block's fused elementwise stages specified in block_elementwise.h. Built
// only under --config=cuda (target //kernels:block_elementwise_cuda).
#ifndef VIDEOGEN_KERNELS_BLOCK_ELEMENTWISE_CUDA_H_
#define VIDEOGEN_KERNELS_BLOCK_ELEMENTWISE_CUDA_H_

#include "absl/status/status.h"
#include "kernels/block_elementwise.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers.

namespace videogen::kernels {

// Same contracts as the references, on device buffers, enqueued on `stream`; T = float or
// BFloat16. INVALID_ARGUMENT for bad arguments, INTERNAL if the launch fails.
template <typename T>
absl::Status ModulatedLayerNormCuda(const RowsShape& shape, const T* input,
                                    const LayerNormArgs& args, T* output, CUstream_st* stream);
template <typename T>
absl::Status GatedResidualCuda(const RowsShape& shape, const T* residual, const T* update,
                               const GatedResidualArgs& args, T* output, CUstream_st* stream);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_BLOCK_ELEMENTWISE_CUDA_H_
