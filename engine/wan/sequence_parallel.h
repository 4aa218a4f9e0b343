// How a transformer forward sees a token sequence split over several ranks (sequence
// parallelism; ARCHITECTURE.md "Parallel runtime"). The model code stays rank-agnostic: every
// per-token stage runs on the rank's own shard, and only self-attention (every query meets every
// key) and the final gather cross shards, through this interface. engine/parallel implements it
// over c10d (Ulysses all-to-all and ring attention); without one, a forward is single-process.
#ifndef VIDEOGEN_ENGINE_WAN_SEQUENCE_PARALLEL_H_
#define VIDEOGEN_ENGINE_WAN_SEQUENCE_PARALLEL_H_

#include <algorithm>
#include <cstdint>
#include <functional>

#include "ATen/core/Tensor.h"

namespace videogen::engine::wan {

// A sequence of `tokens` split into `count` contiguous shards of size() = ceil(tokens / count)
// rows; shard `index` holds tokens [begin(), begin() + valid()) followed by padding rows, which
// take part in no attention as keys and are dropped from the output. Padding is at the end of the
// sequence only (at most count - 1 rows, all in the last shards).
struct SequenceShard {
  int64_t tokens = 0;
  int64_t count = 1;
  int64_t index = 0;

  int64_t size() const { return (tokens + count - 1) / count; }
  int64_t begin() const { return index * size(); }
  int64_t valid() const { return std::clamp<int64_t>(tokens - begin(), 0, size()); }
};

// Attention of q over k, v in the heads-first layout [B, heads, S, head_dim], returning
// [B, heads, Sq, head_dim] and, if `lse` is not null, each query's log-sum-exp [B, heads, Sq]
// float32 (Transformer::ScaledDotProduct's contract).
using LocalAttention = std::function<at::Tensor(const at::Tensor& q, const at::Tensor& k,
                                                const at::Tensor& v, at::Tensor* lse)>;

// One forward's view of the split sequence. Implementations run collectives: every rank of the
// sequence group must make the same calls in the same order with equally shaped tensors.
// Failures (a lost peer, a timeout) throw c10::Error like the LibTorch compute around them.
class SequenceParallel {
 public:
  virtual ~SequenceParallel() = default;

  // This rank's shard of the forward's sequence.
  virtual SequenceShard shard() const = 0;

  // Self-attention of this rank's queries q [B, Sq, heads, head_dim] over the keys and values of
  // every shard's valid tokens; k, v [B, shard().size(), heads, head_dim] are this rank's.
  // Returns [B, Sq, heads, head_dim] in q's dtype and, if `lse` is not null, the log-sum-exp
  // [B, heads, Sq] float32. `local` computes each partial attention.
  virtual at::Tensor Attend(const LocalAttention& local, const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, at::Tensor* lse) const = 0;

  // Every shard's rows of a per-token tensor [B, shard().size(), C], concatenated in sequence
  // order and cut to the valid tokens: [B, shard().tokens, C].
  virtual at::Tensor Gather(const at::Tensor& local) const = 0;
};

// Rows [begin, begin + size) of `full` along dim 1 ([B, S, ...]) for `shard`, zero-padded past
// the sequence's end.
at::Tensor TakeShard(const at::Tensor& full, const SequenceShard& shard);

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_SEQUENCE_PARALLEL_H_
