// PAB, Pyramid Attention Broadcast (Zhao et al. 2024, "Real-Time Video Generation with Pyramid
// Attention Broadcast"), as the seed configures it for Wan (appendix A.2): in the middle of
// sampling, attention outputs change little from one step to the next, so each block's
// self-attention and cross-attention outputs are computed only every few steps and broadcast
// (reused as they are) in between. The cross-attention, whose output varies least, gets the
// longer range (the "pyramid"); the feed-forward is computed at every step.
//
// Which steps compute what, for a job of T steps (Schedule(); steps are 0-based):
//   - u = ceil(untouched_fraction · T) steps at each end are computed fully: steps s < u and
//     s >= T − u, and step 0 (nothing is cached before it). Rounding up leaves at least the
//     fraction untouched: 20 steps at 0.15 keep 3 at each end, 50 steps keep 8. (PAB itself
//     bounds its broadcast by timestep values; the seed states the bound as a share of steps.)
//   - in between, a branch of broadcast range r is computed at step s if s − (the step that last
//     computed it) >= r, and otherwise takes that step's output (Transformer::BlockWithCache).
//     Range 1 computes the branch at every step.
// Every block follows the same schedule. For the seed's (2, 6) on 20 steps, the self-attention
// is computed at steps 0–2, every second step from 4 to 16, and 17–19; the cross-attention at
// 0–2, 8, 14 and 17–19. With both ranges 1 the policy is the dense model, kernel for kernel.
//
// Work per block and step (work.h): the self-attention N queries over N keys when computed, else
// none; the cross-attention N rows or none; the feed-forward N rows.
//
// Ownership and threading: the policy is its options only, immutable and shareable across
// models and threads (policy.h). A run borrows the Transformer given to Start() (which must
// outlive the run; the run does not need the policy), keeps, per block, the output of each
// attention branch that its next step broadcasts ([1, N, D] each, run dtype; dropped once the
// next step recomputes the branch), and is used by one thread at a time.
#ifndef VIDEOGEN_ENGINE_ACCEL_PAB_H_
#define VIDEOGEN_ENGINE_ACCEL_PAB_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/accel/policy.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

// Defaults: the seed's first Wan setting; its second is ranges (5, 9).
struct PabOptions {
  int self_attention_range = 2;      // >= 1: between the untouched steps, computed every this
                                     // many steps (1: every step).
  int cross_attention_range = 6;     // >= 1.
  double untouched_fraction = 0.15;  // In [0, 0.5]: the share of steps at each end computed fully.
};

class PabPolicy : public Policy {
 public:
  // The attention branches one step computes (the others are broadcast).
  struct StepPlan {
    bool self_attention = true;
    bool cross_attention = true;
  };

  // INVALID_ARGUMENT, naming the value, for a range < 1 or an untouched_fraction outside
  // [0, 0.5].
  static absl::StatusOr<std::unique_ptr<PabPolicy>> Create(const PabOptions& options = {});

  const PabOptions& options() const { return options_; }

  // E.g. "pab(self=2,cross=6,untouched=0.15)".
  std::string Describe() const override;
  // Any model fits; INVALID_ARGUMENT if steps < 1.
  absl::StatusOr<std::unique_ptr<BranchRun>> Start(const wan::Transformer& transformer,
                                                   int steps) const override;

  // The plan of every step of a job of `steps` steps, as described above. INVALID_ARGUMENT if
  // steps < 1.
  absl::StatusOr<std::vector<StepPlan>> Schedule(int steps) const;

 private:
  explicit PabPolicy(const PabOptions& options) : options_(options) {}

  const PabOptions options_;
};

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_PAB_H_
