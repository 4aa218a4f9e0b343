// ToCa, token-wise feature caching (Zou et al. 2024, "Accelerating Diffusion Transformers with
// Token-wise Feature Caching"), as the seed reimplements it for Wan (appendix A.2): token
// selection on the cross-attention and feed-forward only, a broadcast range of 2 for every
// branch, and 80% or 85% of the feed-forward rows reused.
//
// Steps with step % interval == 0 (steps are 0-based) are fresh: every block is computed densely
// and its three branch outputs are cached. At every other step each block
//   - takes its self-attention output whole from the cache (broadcast);
//   - recomputes the cross-attention and feed-forward rows of k = ceil((1 − reuse_ratio) · N) of
//     its N tokens (SelectFreshTokens()) and takes the other rows from the cache
//     (Transformer::BlockWithCache's `fresh`); the product is taken at the ratio's decimal
//     value, so 85% of 20 tokens reuses 17 and recomputes 3;
//   - caches the branch outputs it added, for the next step.
// interval 1 makes every step fresh: the dense model, kernel for kernel. The interval alone
// decides when the self-attention is broadcast, so reuse_ratio 0 recomputes every cross-attention
// and feed-forward row but still broadcasts the self-attention between fresh steps; reuse_ratio 1
// reuses all three branches whole.
//
// Token choice. ToCa ranks tokens by how much the other tokens attend to them (self-attention map
// column sums), the entropy of their cross-attention, and a cache-frequency term that favours
// tokens reused for long. The engine's fused attention kernels never materialise attention maps,
// and computing them would cost O(N²) memory per block, the overhead the seed holds against
// ToCa. This implementation keeps ToCa's cache-frequency term and replaces the attention terms
// with the L2 norm of the token's input to the block, a score ToCa's released code also offers
// (its "norm" cache type) that costs one pass over the input. Tokens are taken in order of
//   1. staleness, the number of consecutive steps its rows have been reused, largest first;
//   2. the norm of its block input, largest first;
//   3. its index, lowest first (the choice is deterministic).
// Staleness is compared first rather than weighted in, so that whatever the inputs, every token
// is recomputed within any ceil(N / k) consecutive cached steps. At the seed's interval 2 all
// tokens are equally stale at a cached step and the norm decides.
//
// Work per block and step (work.h): a fresh step's block is dense; a cached step's computes no
// self-attention and k cross-attention and feed-forward rows.
//
// Ownership and threading: the policy is its options only, immutable and shareable across
// models and threads (policy.h). A run borrows the Transformer given to Start() (which must
// outlive the run; the run does not need the policy), keeps, per block, the three branch outputs
// ([1, N, D] each, run dtype) and every token's staleness ([N] int32) while its next step is a
// cached one, and is used by one thread at a time.
#ifndef VIDEOGEN_ENGINE_ACCEL_TOCA_H_
#define VIDEOGEN_ENGINE_ACCEL_TOCA_H_

#include <cstdint>
#include <memory>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "engine/accel/policy.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

// Defaults: the seed's first Wan variant; its second reuses 85%.
struct TocaOptions {
  int interval = 2;          // >= 1: every interval-th step (from step 0) is fresh.
  double reuse_ratio = 0.8;  // In [0, 1]: the share of cross-attention and feed-forward rows
                             // a cached step takes from the cache.
};

class TocaPolicy : public Policy {
 public:
  // INVALID_ARGUMENT, naming the value, for an interval < 1 or a reuse_ratio outside [0, 1].
  static absl::StatusOr<std::unique_ptr<TocaPolicy>> Create(const TocaOptions& options = {});

  const TocaOptions& options() const { return options_; }

  // E.g. "toca(interval=2,reuse=0.8)".
  std::string Describe() const override;
  // Any model fits; INVALID_ARGUMENT if steps < 1.
  absl::StatusOr<std::unique_ptr<BranchRun>> Start(const wan::Transformer& transformer,
                                                   int steps) const override;

  // The `count` tokens a cached step recomputes in one block, in the order described above:
  // ascending indices, [count] int64 on the inputs' device. `input` is the block's input
  // [N, D] (any floating dtype; norms are taken in float32), `staleness` [N] int32 each token's
  // consecutive reused steps; 0 <= count <= N.
  static at::Tensor SelectFreshTokens(const at::Tensor& input, const at::Tensor& staleness,
                                      int64_t count);

 private:
  explicit TocaPolicy(const TocaOptions& options) : options_(options) {}

  const TocaOptions options_;
};

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_TOCA_H_
