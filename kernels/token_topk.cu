#include <cuda_runtime.h>

#include <cstdint>

#include <cub/block/block_scan.cuh>

#include "absl/strings/str_cat.h"
#include "kernels/token_topk_cuda.h"

namespace videogen::kernels {
namespace {

constexpr int kSelectThreads = 1024;

// Scores as token_topk.h specifies (explicit roundings, no FMA), mapped to uint32 keys whose
// unsigned order is the scores' order (NaN as -inf, -0 as +0).
__global__ void ScoreKernel(int64_t tokens, int64_t dim, const float* lse, const float* now,
                            const float* last, const int32_t* skip, TokenTopKParams params,
                            uint32_t* keys) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= tokens) return;
  // Sequential in j either way; 16-byte loads when the rows allow.
  float sum = 0;
  auto accumulate = [&](float a, float b) {
    const float diff = __fsub_rn(a, b);
    sum = __fadd_rn(sum, __fmul_rn(diff, diff));
  };
  if (dim % 4 == 0 && reinterpret_cast<uintptr_t>(now) % 16 == 0 &&
      reinterpret_cast<uintptr_t>(last) % 16 == 0) {
    const float4* a = reinterpret_cast<const float4*>(now + t * dim);
    const float4* b = reinterpret_cast<const float4*>(last + t * dim);
    for (int64_t j = 0; j < dim / 4; ++j) {
      const float4 x = a[j], y = b[j];
      accumulate(x.x, y.x);
      accumulate(x.y, y.y);
      accumulate(x.z, y.z);
      accumulate(x.w, y.w);
    }
  } else {
    for (int64_t j = 0; j < dim; ++j) accumulate(now[t * dim + j], last[t * dim + j]);
  }
  const float delta = __fmul_rn(sum, params.delta_scale);
  const float significance = __fmul_rn(__fmul_rn(params.w_alpha, lse[t]), delta);
  const int32_t steps = min(max(skip[t], 0), kMaxPenaltySteps);
  float score = __fadd_rn(significance, __fmul_rn(params.w_beta, params.penalty[steps]));
  score = isnan(score) ? -INFINITY : __fadd_rn(score, 0.0f);
  const uint32_t bits = __float_as_uint(score);
  keys[t] = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// Keys are staged in shared memory when they fit, padded by one word per 32 so that threads
// walking contiguous runs hit distinct banks.
constexpr int64_t kMaxStagedKeys = 48 * 1024;
__host__ __device__ constexpr int64_t Padded(int64_t i) { return i + i / 32; }

// One block: finds the k-th largest key T and how many keys equal to T to take (the lowest
// indices), then writes the selection in index order. `kStaged`: keys read from shared memory.
template <bool kStaged>
__global__ void __launch_bounds__(kSelectThreads)
    SelectKernel(int64_t tokens, int64_t k, const uint32_t* global_keys, int64_t* selected,
                 int32_t* slot) {
  extern __shared__ uint32_t staged[];
  using Scan = cub::BlockScan<int64_t, kSelectThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  __shared__ uint32_t histogram[256];
  __shared__ uint32_t shared_prefix;
  __shared__ int64_t shared_remaining;
  const int tid = threadIdx.x;
  if constexpr (kStaged) {
    for (int64_t i = tid; i < tokens; i += kSelectThreads) staged[Padded(i)] = global_keys[i];
    __syncthreads();
  }
  auto keys = [&](int64_t i) { return kStaged ? staged[Padded(i)] : global_keys[i]; };
  if (k == 0) {
    for (int64_t i = tid; i < tokens; i += kSelectThreads) slot[i] = -1;
    return;
  }

  // Radix select, 8 bits at a time from the top: narrow to the bin holding the k-th largest.
  uint32_t prefix = 0, mask = 0;
  int64_t remaining = k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = tid; b < 256; b += kSelectThreads) histogram[b] = 0;
    __syncthreads();
    for (int64_t i = tid; i < tokens; i += kSelectThreads) {
      const uint32_t key = keys(i);
      if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 0xFFu], 1u);
    }
    __syncthreads();
    if (tid < 32) {
      // Warp 0 finds the bin holding the remaining-th largest key, counting from bin 255 down:
      // lane l sums bins 255 - 8l .. 248 - 8l, a warp scan gives the count above each lane's
      // group, and the lane whose group crosses `remaining` walks its 8 bins.
      const int top = 255 - 8 * tid;
      int64_t group = 0;
      for (int b = 0; b < 8; ++b) group += histogram[top - b];
      int64_t inclusive = group;
      for (int offset = 1; offset < 32; offset *= 2) {
        const int64_t other = __shfl_up_sync(0xFFFFFFFFu, inclusive, offset);
        if (tid >= offset) inclusive += other;
      }
      const int64_t above_group = inclusive - group;
      if (above_group < remaining && inclusive >= remaining) {
        int64_t above = above_group;
        int bin = top;
        for (; above + histogram[bin] < remaining; --bin) above += histogram[bin];
        shared_prefix = prefix | (static_cast<uint32_t>(bin) << shift);
        shared_remaining = remaining - above;
      }
    }
    __syncthreads();
    prefix = shared_prefix;
    remaining = shared_remaining;
    mask |= 0xFFu << shift;
  }
  const uint32_t threshold = prefix;  // Keys above it are taken, and `remaining` equal to it.

  // Each thread owns a contiguous run of tokens; scans give its ties' rank and output position.
  const int64_t run = (tokens + kSelectThreads - 1) / kSelectThreads;
  const int64_t begin = min(tokens, tid * run), end = min(tokens, begin + run);
  int64_t ties = 0;
  for (int64_t i = begin; i < end; ++i) ties += keys(i) == threshold;
  int64_t tie_rank = 0;
  Scan(scan_storage).ExclusiveSum(ties, tie_rank);
  __syncthreads();
  int64_t taken = 0;
  int64_t rank = tie_rank;
  for (int64_t i = begin; i < end; ++i) {
    const uint32_t key = keys(i);
    const bool tie = key == threshold;
    taken += key > threshold || (tie && rank < remaining);
    rank += tie;
  }
  int64_t position = 0;
  Scan(scan_storage).ExclusiveSum(taken, position);
  rank = tie_rank;
  for (int64_t i = begin; i < end; ++i) {
    const uint32_t key = keys(i);
    const bool tie = key == threshold;
    if (key > threshold || (tie && rank < remaining)) {
      selected[position] = i;
      slot[i] = static_cast<int32_t>(position++);
    } else {
      slot[i] = -1;
    }
    rank += tie;
  }
}

}  // namespace

absl::Status TokenTopKCuda(const TokenTopKShape& shape, const float* lse, const float* sketch_now,
                           const float* sketch_last, const int32_t* skip,
                           const TokenTopKParams& params, uint32_t* keys, int64_t* selected,
                           int32_t* slot, CUstream_st* stream) {
  if (absl::Status status =
          ValidateTokenTopKArgs(shape, lse, sketch_now, sketch_last, skip, selected, slot);
      !status.ok()) {
    return status;
  }
  if (shape.num_tokens == 0) return absl::OkStatus();
  if (keys == nullptr) return absl::InvalidArgumentError("token top-k: null keys workspace");
  constexpr int kScoreThreads = 256;
  const int64_t blocks = (shape.num_tokens + kScoreThreads - 1) / kScoreThreads;
  ScoreKernel<<<static_cast<unsigned>(blocks), kScoreThreads, 0, stream>>>(
      shape.num_tokens, shape.sketch_dim, lse, sketch_now, sketch_last, skip, params, keys);
  if (shape.num_tokens <= kMaxStagedKeys) {
    const size_t bytes = Padded(shape.num_tokens) * sizeof(uint32_t);
    // Above 48 KiB of dynamic shared memory a kernel must opt in (once per process is enough,
    // repeating it is cheap).
    cudaFuncSetAttribute(SelectKernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         static_cast<int>(Padded(kMaxStagedKeys) * sizeof(uint32_t)));
    SelectKernel<true>
        <<<1, kSelectThreads, bytes, stream>>>(shape.num_tokens, shape.k, keys, selected, slot);
  } else {
    SelectKernel<false>
        <<<1, kSelectThreads, 0, stream>>>(shape.num_tokens, shape.k, keys, selected, slot);
  }
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) {
    return absl::InternalError(
        absl::StrCat("token top-k launch failed: ", cudaGetErrorString(error)));
  }
  return absl::OkStatus();
}

}  // namespace videogen::kernels
