// ASTRAEA token-wise sparse computation of the Wan transformer (seed §3.2, Algorithm 1;
// ARCHITECTURE.md "ASTRAEA in the engine").
//
// At denoising step t with budget θ_t, every block computes only k = round(θ_t·N) of its N
// tokens and the others take a cached contribution:
//   θ_t = 1 (or the block's first step): the dense block; all per-token state is refreshed.
//   θ_t = 0: the block is skipped; every token takes its cached contribution.
//   otherwise: each token scores S = wα·S_LSE·Δ + wβ·exp(n) and the top k are computed with the
//     sparse-query block (Transformer::SparseBlock: K/V from all tokens, the rest on the k).
// S_LSE is the token's self-attention log-sum-exp (mean over heads) at its last computation; Δ
// the mean squared change of its block input since then, estimated from a random projection
// ("sketch") of the input to `sketch_dim` dimensions, so the state stays small; n the number of
// consecutive steps it was not computed. Ties go to the lower token index, so the selection is
// deterministic; scoring and selection are kernels/token_topk.h (one CUDA kernel pair on the GPU,
// its reference on the CPU, with identical results).
//
// Sequence parallelism (Forward with a wan::SequenceParallel): each rank holds the state of its
// own shard of the tokens and selects ceil(k / ranks) of them (its valid tokens first, then its
// padding rows if it has too few), so every rank computes the same number of rows and the
// collectives stay balanced. SparseOptions::selection_shards makes a single process select the
// same way, which is what a sequence-parallel run is compared with.
//
// Caches (CacheKind): kResidual (default) keeps each token's block residual (output − input at
// its last computation) and adds it to the current input; kOutput reuses the output itself (the
// seed's literal variant, for ablation).
//
// Modes (SparseMode): kAstraea (per block), kFixedToken (one selection per step at the model
// input, block 0's, shared by all blocks), kTimestepLevel (schedules of θ ∈ {0, 1} only: whole
// steps computed or reused) and kDense (the dense model, schedule ignored). A dense schedule
// runs exactly Transformer::Forward's kernels in the same order.
//
// Ownership and threading: SparseTransformer borrows the Transformer (which must outlive it) and
// is immutable; a SparseState holds one CFG branch's per-block caches for one job (allocated on
// the first step, freed with the state) and must be used by one thread at a time.
#ifndef VIDEOGEN_ENGINE_ASTRAEA_SPARSE_TRANSFORMER_H_
#define VIDEOGEN_ENGINE_ASTRAEA_SPARSE_TRANSFORMER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/astraea/schedule.h"
#include "engine/wan/sequence_parallel.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::astraea {

enum class SparseMode { kAstraea, kFixedToken, kTimestepLevel, kDense };
enum class CacheKind { kResidual, kOutput };

struct SparseOptions {
  SparseMode mode = SparseMode::kAstraea;
  CacheKind cache = CacheKind::kResidual;
  // Score weights. Provisional: on random-weight models the choice barely changes the error
  // (sparse_transformer_test); they are to be set from trained weights.
  double w_alpha = 1.0;     // Weight of the significance S_LSE·Δ.
  double w_beta = 1.0;      // Weight of the staleness penalty exp(n).
  int64_t sketch_dim = 32;  // Dimensions of the input sketch Δ is estimated from.
  uint64_t sketch_seed = 0;
  // The tokens split into this many contiguous shards of ceil(N / shards), each selecting
  // ceil(k / shards) of its own tokens (or all of them if it has fewer): the selection of a
  // sequence-parallel run over as many ranks. 1 selects the top k of all N. Not used by a
  // sequence-parallel Forward, whose ranks always select per shard.
  int64_t selection_shards = 1;
};

// One CFG branch's token state across the steps of one job.
class SparseState {
 public:
  SparseState(SparseState&&) = default;
  SparseState& operator=(SparseState&&) = default;

  const BudgetSchedule& schedule() const { return schedule_; }
  // Tokens computed so far, summed over blocks and steps (N per block for a dense step): in a
  // sequence-parallel run, this rank's valid tokens only.
  int64_t tokens_computed() const { return tokens_computed_; }
  // Bytes held by the caches.
  int64_t CacheBytes() const;
  // Block `block`'s consecutive-skip count per token, [N] int32 (undefined before its first
  // step), for monitoring and tests.
  const at::Tensor& SkipCounts(int block) const { return blocks_.at(block).skip; }

  // Steps run so far.
  int steps_done() const { return next_step_; }
  // A deep copy, to branch a run at a step boundary.
  SparseState Clone() const;
  // Sets the level of the next step to run; the later levels stay. Only for an open-ended state
  // (SparseTransformer::NewState). INVALID_ARGUMENT for a level outside [0, kDenseLevel], a
  // state that is not open-ended, or one whose steps have all run.
  absl::Status SetNextLevel(int level);

 private:
  friend class SparseTransformer;
  struct Block {
    at::Tensor cache;   // [N, D] run dtype: residual or output (CacheKind).
    at::Tensor lse;     // [N] float32, at the last computation.
    at::Tensor sketch;  // [N, sketch_dim] float32, of the input at the last computation.
    at::Tensor skip;    // [N] int32, consecutive steps not computed.
  };
  SparseState(BudgetSchedule schedule, bool open_ended)
      : schedule_(std::move(schedule)), open_ended_(open_ended) {}

  BudgetSchedule schedule_;
  // The later levels may still change: per-token state is kept whatever they are.
  bool open_ended_ = false;
  int next_step_ = 0;
  int64_t tokens_computed_ = 0;
  std::vector<Block> blocks_;
};

class SparseTransformer {
 public:
  // INVALID_ARGUMENT for negative weights, or a sketch_dim or selection_shards outside
  // [1, 4096].
  static absl::StatusOr<std::unique_ptr<SparseTransformer>> Create(
      const wan::Transformer& transformer, const SparseOptions& options = {});

  const SparseOptions& options() const { return options_; }

  // State for one branch of a job that will run `schedule`. INVALID_ARGUMENT if the schedule
  // does not fit the mode (kTimestepLevel: θ ∈ {0, 1} only). An `open_ended` state takes each
  // step's level from SetNextLevel() if given (the schedule is then only a default) and keeps the
  // per-token state even when the remaining levels are dense; its results match a fixed
  // schedule's up to rounding (its dense steps also compute their attention log-sum-exp).
  absl::StatusOr<SparseState> NewState(const BudgetSchedule& schedule,
                                       bool open_ended = false) const;

  // The model at the state's next step (Transformer::Forward's contract otherwise; batch 1),
  // with the branch's text side from Transformer::EncodeText; with `sequence`, computed
  // sequence-parallel (every rank of the group calls it with the same inputs and its own
  // state, and gets the whole output). INVALID_ARGUMENT for latents or a timestep
  // Transformer::ValidateInputs rejects, a batch other than 1, a text context of another batch
  // or model, a `sequence` for another token count, or a state whose schedule is exhausted;
  // FAILED_PRECONDITION if the token grid changed between steps. LibTorch and collective
  // failures throw (callers convert, engine/common/torch_status.h).
  absl::StatusOr<at::Tensor> Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                     const wan::Transformer::TextContext& text, SparseState& state,
                                     const wan::SequenceParallel* sequence = nullptr) const;

 private:
  SparseTransformer(const wan::Transformer& transformer, const SparseOptions& options);

  // The rows a block computes: indices ascending [k] int64, and each row's place among them
  // or -1 [rows] int32; `valid` of them are tokens (the rest padding rows of a shard).
  struct Selection {
    at::Tensor tokens, slot;
    int64_t valid = 0;
  };
  // How a step's budget is shared among the forward's rows: groups of `group_size` rows (the
  // last may be shorter) each select `per_group` rows, their valid ones first; rows at and
  // past `valid` are padding.
  struct Quota {
    int64_t rows = 0, valid = 0, group_size = 0, per_group = 0;
  };

  // Block `index` with the step's budget of k tokens (of n in the whole sequence) shared as
  // `quota` says, updating `block`; `*computed` receives the valid rows it computed.
  // `selection` carries the step's shared selection in kFixedToken mode (made by block 0).
  at::Tensor RunBlock(int index, const at::Tensor& hidden, int64_t k, int64_t n, const Quota& quota,
                      bool keep_state, const wan::Transformer::Conditioning& conditioning,
                      const wan::Transformer::Rope& rope, const wan::SequenceParallel* sequence,
                      SparseState::Block& block, Selection& selection, int64_t* computed) const;
  // The top-scoring rows of `block` for its input's sketch `sketch`, per `quota`.
  Selection Select(const SparseState::Block& block, const at::Tensor& sketch,
                   const Quota& quota) const;
  // The top `tokens.size(0)` of rows [begin, begin + count): their indices (ascending, counted
  // from 0 = row `begin`) into `tokens` [k] int64 and their places into `slot` [count] int32.
  void SelectRange(const SparseState::Block& block, const at::Tensor& sketch, int64_t begin,
                   int64_t count, const at::Tensor& tokens, const at::Tensor& slot) const;
  at::Tensor Sketch(const at::Tensor& hidden) const;

  const wan::Transformer& transformer_;
  const SparseOptions options_;
  at::Tensor projection_;  // [D, sketch_dim] float32, N(0, 1) entries.
};

}  // namespace videogen::engine::astraea

#endif  // VIDEOGEN_ENGINE_ASTRAEA_SPARSE_TRANSFORMER_H_
