// Δ-DiT (Chen et al. 2024, "Δ-DiT: A Training-Free Acceleration Method Tailored for Diffusion
// Transformers") as the seed configures it for Wan (appendix A.2): a range of `cached_blocks`
// consecutive blocks is skipped at most steps of a window, and its residual (output − input) from
// the last step that computed it is added to its input instead.
//
// Which blocks are cached: before `switch_step` the LAST cached_blocks blocks (early steps lay
// down the outline, which the front blocks carry, so the back blocks, which refine details, can
// be reused); from `switch_step` on the FIRST cached_blocks blocks (late steps refine details, so
// the front blocks' outline is reused).
//
// Which steps are full (steps are 0-based): the partial window [first_partial_step,
// end_partial_step) is split at `switch_step` into phases, [first_partial_step, switch_step) and
// [switch_step, end_partial_step) (just one phase if switch_step lies outside the window). A step
// is full if it lies outside the window or is a multiple of `interval` steps after the start of
// its phase; every other step is partial. Because each phase starts with a full step, a partial
// step always reuses a residual of its own block range, computed at most interval − 1 steps
// before. For the seed's Wan settings (switch 25, interval 3, window [5, 45), 50 steps) the full
// steps are 0–5, 8, …, 23 (every third from 5), 25, 28, …, 43 (every third from 25), and 45–49.
//
// A full step computes every block (exactly Transformer::Forward) and, if the next step is
// partial, keeps the cached range's residual; a partial step computes the blocks outside the
// range. Work (work.h): a computed block is a dense block, a skipped one costs nothing.
// interval 1 or an empty window (first_partial_step == end_partial_step) is the dense model.
//
// Ownership and threading: the policy is its options only, immutable and shareable across
// models and threads (policy.h); whether cached_blocks fits a model is checked by Start(). A run
// borrows the Transformer given to Start() (which must outlive the run; the run does not need
// the policy), holds one branch's residual ([1, N, D], run dtype), and is used by one thread at
// a time.
#ifndef VIDEOGEN_ENGINE_ACCEL_DELTA_DIT_H_
#define VIDEOGEN_ENGINE_ACCEL_DELTA_DIT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/accel/policy.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

// Defaults: the seed's Wan2.1 settings (b = 25, N = 3, partial steps from 5 to 45, 10 of 30
// blocks) for a 50-step job.
struct DeltaDitOptions {
  int switch_step = 25;        // b: from this step on, the front blocks are cached.
  int interval = 3;            // N: a full step every N steps within a phase.
  int first_partial_step = 5;  // The partial window [first_partial_step, end_partial_step).
  int end_partial_step = 45;
  int cached_blocks = 10;  // Blocks in the cached range.
};

class DeltaDitPolicy : public Policy {
 public:
  // Blocks [begin, end).
  struct BlockRange {
    int begin = 0, end = 0;
  };

  // INVALID_ARGUMENT, naming the value, for cached_blocks < 1, interval < 1, a negative
  // switch_step or first_partial_step, or end_partial_step < first_partial_step.
  static absl::StatusOr<std::unique_ptr<DeltaDitPolicy>> Create(
      const DeltaDitOptions& options = {});

  const DeltaDitOptions& options() const { return options_; }

  // E.g. "delta_dit(switch=25,interval=3,start=5,end=45,blocks=10)": switch_step, interval,
  // first_partial_step, end_partial_step and cached_blocks.
  std::string Describe() const override;
  // INVALID_ARGUMENT if steps < 1, end_partial_step > steps, switch_step > steps, or
  // cached_blocks > the transformer's num_layers.
  absl::StatusOr<std::unique_ptr<BranchRun>> Start(const wan::Transformer& transformer,
                                                   int steps) const override;

  // The schedule, as described above: whether `step` (>= 0) computes every block, and the
  // blocks that are cached at `step` (skipped there unless the step is full) in a model of
  // `num_layers` >= cached_blocks blocks.
  bool IsFullStep(int step) const;
  BlockRange CachedRange(int step, int num_layers) const;

 private:
  explicit DeltaDitPolicy(const DeltaDitOptions& options) : options_(options) {}

  const DeltaDitOptions options_;
};

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_DELTA_DIT_H_
