// Sequence-parallel self-attention over a ParallelContext's sequence group: Ulysses all-to-all
// within each Ulysses group, ring attention across the rings, and their product
// (engine/parallel/layout.h). One object per forward (it knows the forward's token count).
//
// Attend(): the queries, keys and values of this rank's shard [B, S, heads, d] are redistributed
// by one all-to-all each over the Ulysses group (heads -> sequence), so that every rank holds
// heads/ulysses heads of its Ulysses group's contiguous stretch of the sequence. Over a ring
// the key/value stretches then travel around (one exchange per ring member, overlapped with the
// attention of the stretch at hand) and the partial results are merged by their log-sum-exp in
// float32. Padding rows at the end of the sequence are cut from the keys and values before any
// attention. A last all-to-all returns the heads to their tokens. With one rank it is exactly
// the single-process attention.
#ifndef VIDEOGEN_ENGINE_PARALLEL_SEQUENCE_ATTENTION_H_
#define VIDEOGEN_ENGINE_PARALLEL_SEQUENCE_ATTENTION_H_

#include <cstdint>

#include "ATen/core/Tensor.h"
#include "engine/parallel/parallel_context.h"
#include "engine/wan/sequence_parallel.h"

namespace videogen::engine::parallel {

class SequenceAttention : public wan::SequenceParallel {
 public:
  // For a forward over `tokens` tokens on `context`'s sequence group (which must outlive this).
  SequenceAttention(const ParallelContext& context, int64_t tokens);

  wan::SequenceShard shard() const override { return shard_; }
  // Throws c10::Error if the head count is not a multiple of the Ulysses degree (layouts are
  // validated against the model up front: ValidateLayout) or a collective fails.
  at::Tensor Attend(const wan::LocalAttention& local, const at::Tensor& q, const at::Tensor& k,
                    const at::Tensor& v, at::Tensor* lse) const override;
  at::Tensor Gather(const at::Tensor& local) const override;

 private:
  // [B, S, heads, d] of this rank's tokens -> [B, ulysses·S, heads/ulysses, d] of its Ulysses
  // group's tokens.
  at::Tensor HeadsToSequence(const at::Tensor& x) const;
  // The inverse for the attention output.
  at::Tensor SequenceToHeads(const at::Tensor& x) const;
  // The same for the log-sum-exp [B, heads/ulysses, ulysses·Sq] -> [B, heads, Sq].
  at::Tensor LseToHeads(const at::Tensor& lse) const;

  const ParallelContext& context_;
  const wan::SequenceShard shard_;
};

}  // namespace videogen::engine::parallel

#endif  // VIDEOGEN_ENGINE_PARALLEL_SEQUENCE_ATTENTION_H_
