// Bookkeeping every BranchRun shares: input checks, step counting and FLOPs. A policy's run
// derives from StepRun and, in Forward(), calls BeginStep() first, AddBlockWork() for what each
// block computed, and EndStep() before returning.
#ifndef VIDEOGEN_ENGINE_ACCEL_STEP_RUN_H_
#define VIDEOGEN_ENGINE_ACCEL_STEP_RUN_H_

#include <cstdint>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "engine/accel/policy.h"
#include "engine/accel/work.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

class StepRun : public BranchRun {
 public:
  int steps_done() const override { return step_; }
  double flops() const override { return flops_; }
  double dense_flops() const override { return dense_flops_; }

 protected:
  // `transformer` must outlive the run; `steps` >= 1 (Policy::Start checks it).
  StepRun(const wan::Transformer& transformer, int steps)
      : transformer_(transformer), steps_(steps) {}

  const wan::Transformer& transformer() const { return transformer_; }
  int steps() const { return steps_; }
  // The step being run (0-based), between BeginStep() and EndStep().
  int step() const { return step_; }

  // Checks the next step's inputs as BranchRun::Forward documents (the grid against the first
  // step's) and returns the token count N.
  absl::StatusOr<int64_t> BeginStep(const at::Tensor& latents, const at::Tensor& timestep,
                                    const wan::Transformer::TextContext& text);
  // Counts one block's work in this step.
  void AddBlockWork(const BlockWork& work);
  // Counts the dense model's work for this step and moves to the next.
  void EndStep();

 private:
  const wan::Transformer& transformer_;
  const int steps_;
  int step_ = 0;
  int64_t tokens_ = -1;  // N, from the first step on.
  int64_t text_tokens_ = 0;
  double flops_ = 0, dense_flops_ = 0;
};

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_STEP_RUN_H_
