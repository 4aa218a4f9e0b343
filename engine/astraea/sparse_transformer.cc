#include "engine/astraea/sparse_transformer.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "absl/strings/str_cat.h"
#include "engine/astraea/internal/fused_ops.h"
#include "engine/common/status_macros.h"
#include "kernels/token_topk.h"

namespace videogen::engine::astraea {
int64_t SparseState::CacheBytes() const {
  int64_t bytes = 0;
  for (const Block& block : blocks_) {
    for (const at::Tensor* t : {&block.cache, &block.lse, &block.sketch, &block.skip}) {
      if (t->defined()) bytes += t->nbytes();
    }
  }
  return bytes;
}

absl::StatusOr<std::unique_ptr<SparseTransformer>> SparseTransformer::Create(
    const wan::Transformer& transformer, const SparseOptions& options) {
  if (!(options.w_alpha >= 0) || !(options.w_beta >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("token score weights must be >= 0, got w_alpha ",
                                                   options.w_alpha, ", w_beta ", options.w_beta));
  }
  if (options.sketch_dim < 1 || options.sketch_dim > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("sketch_dim ", options.sketch_dim, " is outside [1, 4096]"));
  }
  if (options.selection_shards < 1 || options.selection_shards > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("selection_shards ", options.selection_shards, " is outside [1, 4096]"));
  }
  return std::unique_ptr<SparseTransformer>(new SparseTransformer(transformer, options));
}

SparseTransformer::SparseTransformer(const wan::Transformer& transformer,
                                     const SparseOptions& options)
    : transformer_(transformer), options_(options) {
  // Rademacher entries: exact in bf16, so the sketch of a bf16 input is exact products summed in
  // float32, and E[(p·v)^2] = |v|^2 per sketch dimension.
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.sketch_seed);
  const at::Tensor signs = at::bernoulli(
      at::full({transformer.config().dim(), options.sketch_dim}, 0.5, at::kFloat), generator);
  projection_ = (signs * 2 - 1).to(transformer.device(), transformer.dtype());
}

SparseState SparseState::Clone() const {
  SparseState copy(schedule_, open_ended_);
  copy.next_step_ = next_step_;
  copy.tokens_computed_ = tokens_computed_;
  copy.blocks_.reserve(blocks_.size());
  for (const Block& block : blocks_) {
    auto clone = [](const at::Tensor& t) { return t.defined() ? t.clone() : t; };
    copy.blocks_.push_back(
        {clone(block.cache), clone(block.lse), clone(block.sketch), clone(block.skip)});
  }
  return copy;
}

absl::Status SparseState::SetNextLevel(int level) {
  if (!open_ended_) {
    return absl::InvalidArgumentError("only an open-ended state's levels can be set");
  }
  if (next_step_ >= schedule_.steps()) {
    return absl::InvalidArgumentError("every step of the state's schedule has run");
  }
  std::vector<int> levels = schedule_.levels();
  levels[next_step_] = level;
  VG_ASSIGN_OR_RETURN(schedule_, BudgetSchedule::FromLevels(levels));
  return absl::OkStatus();
}

absl::StatusOr<SparseState> SparseTransformer::NewState(const BudgetSchedule& schedule,
                                                        bool open_ended) const {
  if (options_.mode == SparseMode::kTimestepLevel) {
    for (int step = 0; step < schedule.steps(); ++step) {
      if (schedule.level(step) != 0 && schedule.level(step) != kDenseLevel) {
        return absl::InvalidArgumentError(
            absl::StrCat("timestep-level mode takes budgets of 0 or 1 only; step ", step, " has ",
                         schedule.theta(step)));
      }
    }
  }
  return SparseState(schedule, open_ended);
}

at::Tensor SparseTransformer::Sketch(const at::Tensor& hidden) const {
  const at::Tensor rows = hidden[0];
  if (rows.is_cuda()) return at::mm(rows, projection_, at::kFloat);
  return at::mm(rows.to(at::kFloat), projection_.to(at::kFloat));
}

void SparseTransformer::SelectRange(const SparseState::Block& block, const at::Tensor& sketch,
                                    int64_t begin, int64_t count, const at::Tensor& tokens,
                                    const at::Tensor& slot) const {
  const kernels::TokenTopKParams params = kernels::TokenTopKParams::Make(
      static_cast<float>(options_.w_alpha), static_cast<float>(options_.w_beta),
      static_cast<float>(1.0 / (options_.sketch_dim * transformer_.config().dim())));
  const at::Tensor lse = block.lse.narrow(0, begin, count);
  const at::Tensor current = sketch.narrow(0, begin, count);
  const at::Tensor last = block.sketch.narrow(0, begin, count);
  const at::Tensor skip = block.skip.narrow(0, begin, count);
  if (sketch.is_cuda()) {
    TORCH_CHECK(internal::TryFusedTokenTopK(lse, current, last, skip, params, tokens, slot),
                "token selection: no CUDA kernel in this build or ineligible tensors");
    return;
  }
  const absl::Status status = kernels::TokenTopKReference(
      {count, options_.sketch_dim, tokens.size(0)}, lse.data_ptr<float>(),
      current.data_ptr<float>(), last.data_ptr<float>(), skip.data_ptr<int32_t>(), params,
      tokens.data_ptr<int64_t>(), slot.data_ptr<int32_t>());
  TORCH_CHECK(status.ok(), status.ToString());
}

SparseTransformer::Selection SparseTransformer::Select(const SparseState::Block& block,
                                                       const at::Tensor& sketch,
                                                       const Quota& quota) const {
  const at::TensorOptions index_options = block.skip.options().dtype(at::kLong);
  Selection selection;
  if (quota.rows == quota.valid && quota.group_size == quota.rows) {
    // One group without padding: the kernel's indices and places are the selection's.
    selection.tokens = at::empty({quota.per_group}, index_options);
    selection.slot = at::empty({quota.rows}, block.skip.options());
    selection.valid = quota.per_group;
    SelectRange(block, sketch, 0, quota.rows, selection.tokens, selection.slot);
    return selection;
  }
  std::vector<at::Tensor> parts;
  for (int64_t begin = 0; begin < quota.rows; begin += quota.group_size) {
    const int64_t rows = std::min(quota.group_size, quota.rows - begin);
    const int64_t valid = std::clamp<int64_t>(quota.valid - begin, 0, rows);
    const int64_t chosen = std::min(quota.per_group, valid);
    if (chosen > 0) {
      const at::Tensor tokens = at::empty({chosen}, index_options);
      SelectRange(block, sketch, begin, valid, tokens, at::empty({valid}, block.skip.options()));
      parts.push_back(tokens + begin);
    }
    // A shard with fewer tokens than its quota computes padding rows to keep ranks balanced.
    const int64_t padding = std::min(quota.per_group, rows) - chosen;
    if (padding > 0) {
      parts.push_back(at::arange(begin + valid, begin + valid + padding, index_options));
    }
    selection.valid += chosen;
  }
  selection.tokens = at::cat(parts);
  selection.slot = at::full({quota.rows}, -1, block.skip.options());
  selection.slot.index_put_({selection.tokens},
                            at::arange(selection.tokens.size(0), block.skip.options()));
  return selection;
}

absl::StatusOr<at::Tensor> SparseTransformer::Forward(const at::Tensor& latents,
                                                      const at::Tensor& timestep,
                                                      const wan::Transformer::TextContext& text,
                                                      SparseState& state,
                                                      const wan::SequenceParallel* sequence) const {
  VG_RETURN_IF_ERROR(transformer_.ValidateInputs(latents, timestep, text));
  if (latents.size(0) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the sparse transformer runs one branch at a time, got a batch of ", latents.size(0)));
  }
  const BudgetSchedule& schedule = state.schedule_;
  if (state.next_step_ >= schedule.steps()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the state's schedule has ", schedule.steps(), " steps, all run"));
  }
  const int64_t n = transformer_.GridOf(latents).tokens();
  if (sequence != nullptr && sequence->shard().tokens != n) {
    return absl::InvalidArgumentError(absl::StrCat("the sequence-parallel context is for ",
                                                   sequence->shard().tokens,
                                                   " tokens, the latents have ", n));
  }
  // This forward's rows: all tokens, or this rank's shard of them.
  const wan::SequenceShard shard =
      sequence != nullptr ? sequence->shard() : wan::SequenceShard{n, 1, 0};
  const int layers = static_cast<int>(transformer_.config().num_layers);
  if (!state.blocks_.empty() && state.blocks_[0].skip.defined() &&
      state.blocks_[0].skip.size(0) != shard.size()) {
    return absl::FailedPreconditionError(absl::StrCat("the token grid changed from ",
                                                      state.blocks_[0].skip.size(0), " to ",
                                                      shard.size(), " tokens within a job"));
  }
  const int step = state.next_step_++;
  if (options_.mode == SparseMode::kDense) {
    state.tokens_computed_ += shard.valid() * layers;
    return transformer_.Forward(latents, timestep, text, sequence);
  }
  state.blocks_.resize(layers);
  const int64_t k = schedule.TokensToCompute(step, n);
  const int64_t groups = sequence != nullptr ? shard.count : options_.selection_shards;
  Quota quota;
  quota.rows = shard.size();
  quota.valid = shard.valid();
  quota.group_size = sequence != nullptr ? shard.size() : (n + groups - 1) / groups;
  quota.per_group = (k + groups - 1) / groups;
  // Per-token state is kept only if a later step reuses it.
  bool keep_state = state.open_ended_;
  for (int later = step + 1; later < schedule.steps(); ++later) {
    keep_state = keep_state || schedule.level(later) < kDenseLevel;
  }

  wan::Transformer::Tokens tokens = transformer_.Embed(latents, sequence);
  const wan::Transformer::Conditioning conditioning = transformer_.Condition(timestep, text);
  Selection selection;  // kFixedToken: block 0's, shared by the step's blocks.
  for (int i = 0; i < layers; ++i) {
    SparseState::Block& block = state.blocks_[i];
    const bool first = !block.skip.defined();  // A block's first step is dense.
    int64_t computed = 0;
    tokens.hidden = RunBlock(i, tokens.hidden, first ? n : k, n, quota, keep_state, conditioning,
                             tokens.rope, sequence, block, selection, &computed);
    state.tokens_computed_ += computed;
  }
  return transformer_.Head(tokens.hidden, conditioning.temb, tokens.grid, sequence);
}

at::Tensor SparseTransformer::RunBlock(int index, const at::Tensor& hidden, int64_t k, int64_t n,
                                       const Quota& quota, bool keep_state,
                                       const wan::Transformer::Conditioning& conditioning,
                                       const wan::Transformer::Rope& rope,
                                       const wan::SequenceParallel* sequence,
                                       SparseState::Block& block, Selection& selection,
                                       int64_t* computed) const {
  const int64_t rows = hidden.size(1);
  const bool residual = options_.cache == CacheKind::kResidual;
  if (k == n) {
    *computed = quota.valid;
    // Exactly the dense block (the log-sum-exp only when a later step will rank tokens by it).
    const bool want_lse = keep_state && options_.mode != SparseMode::kTimestepLevel;
    at::Tensor lse;
    const at::Tensor out = transformer_.SparseBlock(index, hidden, /*selected=*/{}, conditioning,
                                                    rope, want_lse ? &lse : nullptr, sequence);
    if (keep_state) {
      // The state is allocated at the block's first step and refreshed in place after that.
      // (bf16 arithmetic in ATen rounds once from float32, as the merge kernel does.)
      if (!block.skip.defined()) {
        block.cache = at::empty_like(hidden[0]);
        block.lse = at::zeros({rows}, hidden.options().dtype(at::kFloat));
        block.sketch = at::empty({rows, options_.sketch_dim}, block.lse.options());
        block.skip = at::empty({rows}, hidden.options().dtype(at::kInt));
      }
      if (residual) {
        at::sub_out(block.cache, out[0], hidden[0]);
      } else {
        block.cache.copy_(out[0]);
      }
      if (want_lse) block.lse.copy_(lse[0]);
      block.sketch.copy_(Sketch(hidden));
      block.skip.zero_();
    }
    return out;
  }
  // With the output cache a block's result is its cache itself (no copy): the hidden stream is
  // never modified in place, and the cache only changes at this block's next step.
  if (k == 0) {
    *computed = 0;
    block.skip.add_(1);
    return residual ? hidden + block.cache.unsqueeze(0) : block.cache.unsqueeze(0);
  }
  const at::Tensor sketch = Sketch(hidden);
  if (options_.mode != SparseMode::kFixedToken || index == 0) {
    selection = Select(block, sketch, quota);
  }
  *computed = selection.valid;
  const at::Tensor& selected = selection.tokens;
  at::Tensor lse;
  const at::Tensor rows_out =
      transformer_.SparseBlock(index, hidden, selected, conditioning, rope, &lse, sequence);
  at::Tensor out;
  if (residual) {
    out = at::empty_like(hidden);
    if (!internal::TryFusedResidualMerge(hidden[0], rows_out[0], selection.slot, block.cache,
                                         out[0])) {
      out = hidden + block.cache.unsqueeze(0);
      out.index_copy_(1, selected, rows_out);
      block.cache.index_copy_(0, selected, (rows_out - hidden.index_select(1, selected))[0]);
    }
  } else {
    block.cache.index_copy_(0, selected, rows_out[0]);
    out = block.cache.unsqueeze(0);
  }
  block.lse.index_copy_(0, selected, lse[0]);
  block.sketch.index_copy_(0, selected, sketch.index_select(0, selected));
  block.skip.add_(1).index_fill_(0, selected, 0);
  return out;
}

}  // namespace videogen::engine::astraea
