#include "engine/parallel/sequence_attention.h"

#include <algorithm>
#include <utility>

#include "ATen/ATen.h"

namespace videogen::engine::parallel {
namespace {

using Group = ParallelContext::Group;

// Folds a partial attention result (heads-first [B, h, Sq, d] and its log-sum-exp [B, h, Sq])
// into the running float32 result, weighting each by its share of the softmax mass.
void Merge(const at::Tensor& part, const at::Tensor& part_lse, at::Tensor& out,
           at::Tensor& out_lse) {
  if (!out.defined()) {
    out = part.to(at::kFloat);
    out_lse = part_lse;
    return;
  }
  const at::Tensor merged_lse = at::logaddexp(out_lse, part_lse);
  out = out * (out_lse - merged_lse).exp().unsqueeze(-1) +
        part.to(at::kFloat) * (part_lse - merged_lse).exp().unsqueeze(-1);
  out_lse = merged_lse;
}

}  // namespace

SequenceAttention::SequenceAttention(const ParallelContext& context, int64_t tokens)
    : context_(context),
      shard_{tokens, context.layout().sequence_size(),
             context.coordinates().shard(context.layout())} {}

at::Tensor SequenceAttention::HeadsToSequence(const at::Tensor& x) const {
  const int64_t u = context_.layout().ulysses;
  if (u == 1) return x;
  const int64_t batch = x.size(0), rows = x.size(1), heads = x.size(2), dim = x.size(3);
  TORCH_CHECK(heads % u == 0, "Ulysses degree ", u, " does not divide the ", heads, " heads");
  const at::Tensor received = context_.AllToAll(
      Group::kUlysses, x.view({batch, rows, u, heads / u, dim}).permute({2, 0, 1, 3, 4}));
  return received.permute({1, 0, 2, 3, 4}).reshape({batch, u * rows, heads / u, dim});
}

at::Tensor SequenceAttention::SequenceToHeads(const at::Tensor& x) const {
  const int64_t u = context_.layout().ulysses;
  if (u == 1) return x;
  const int64_t batch = x.size(0), rows = x.size(1) / u, heads = x.size(2), dim = x.size(3);
  const at::Tensor received = context_.AllToAll(
      Group::kUlysses, x.reshape({batch, u, rows, heads, dim}).permute({1, 0, 2, 3, 4}));
  return received.permute({1, 2, 0, 3, 4}).reshape({batch, rows, u * heads, dim});
}

at::Tensor SequenceAttention::LseToHeads(const at::Tensor& lse) const {
  const int64_t u = context_.layout().ulysses;
  if (u == 1) return lse;
  const int64_t batch = lse.size(0), heads = lse.size(1), rows = lse.size(2) / u;
  const at::Tensor received = context_.AllToAll(
      Group::kUlysses, lse.reshape({batch, heads, u, rows}).permute({2, 0, 1, 3}));
  return received.permute({1, 0, 2, 3}).reshape({batch, u * heads, rows});
}

at::Tensor SequenceAttention::Attend(const wan::LocalAttention& local, const at::Tensor& q,
                                     const at::Tensor& k, const at::Tensor& v,
                                     at::Tensor* lse) const {
  const int64_t batch = q.size(0);
  TORCH_CHECK(k.size(1) == shard_.size() && v.size(1) == shard_.size(),
              "sequence-parallel attention takes the keys and values of the rank's ", shard_.size(),
              " rows, got ", k.size(1));
  if (shard_.count == 1) {  // The single-process attention, operation for operation.
    return local(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), lse)
        .transpose(1, 2)
        .to(q.scalar_type());
  }
  const at::Tensor queries = HeadsToSequence(q).transpose(1, 2);
  // Keys and values travel together: [2B, stretch, heads/u, d], keys first.
  at::Tensor current = HeadsToSequence(at::cat({k, v})).contiguous();
  const int64_t stretch = current.size(1);  // Rows of one Ulysses group's part of the sequence.
  const int ring = context_.layout().ring;
  const int ring_index = context_.RankIn(Group::kRing);

  // Attention of the queries over ring member `source`'s keys and values in `kv`.
  auto attend = [&](const at::Tensor& kv, int source, at::Tensor* part_lse) {
    const int64_t valid = std::clamp<int64_t>(shard_.tokens - source * stretch, 0, stretch);
    if (valid == 0) return at::Tensor();  // Only padding.
    const at::Tensor keys = kv.narrow(0, 0, batch).narrow(1, 0, valid).transpose(1, 2);
    const at::Tensor values = kv.narrow(0, batch, batch).narrow(1, 0, valid).transpose(1, 2);
    return local(queries, keys, values, part_lse);
  };

  at::Tensor out, out_lse;
  if (ring == 1) {
    out = attend(current, 0, lse != nullptr ? &out_lse : nullptr);
  } else {
    at::Tensor next = at::empty_like(current);
    for (int step = 0; step < ring; ++step) {
      const bool more = step + 1 < ring;
      ParallelContext::RingExchange exchange;
      if (more) exchange = context_.StartRingExchange(current, next);
      at::Tensor part_lse;
      const at::Tensor part = attend(current, (ring_index - step + ring) % ring, &part_lse);
      if (part.defined()) Merge(part, part_lse, out, out_lse);
      if (more) {
        exchange.Wait();
        std::swap(current, next);
      }
    }
  }
  if (lse != nullptr) *lse = LseToHeads(out_lse);
  return SequenceToHeads(out.to(q.scalar_type()).transpose(1, 2));
}

at::Tensor SequenceAttention::Gather(const at::Tensor& local) const {
  if (shard_.count == 1) return local;
  const at::Tensor gathered =
      context_.AllGather(Group::kSequence, local.transpose(0, 1).contiguous());
  return gathered.narrow(0, 0, shard_.tokens).transpose(0, 1).contiguous();
}

}  // namespace videogen::engine::parallel
