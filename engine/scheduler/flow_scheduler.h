// The sampler of a flow-matching video model: the timestep grid the transformer is evaluated at,
// and the update that turns the transformer's velocity prediction into the next latents.
//
// Use, as diffusers' WanPipeline does:
//   VG_RETURN_IF_ERROR(scheduler->SetTimesteps(num_steps));
//   for (int k = 0; k < num_steps; ++k) {
//     at::Tensor v = transformer(latents, scheduler->timesteps()[k]);  // with CFG
//     VG_ASSIGN_OR_RETURN(latents, scheduler->Step(v, k, latents));
//   }
//
// Implementations reproduce a diffusers scheduler operation for operation, with the same dtypes
// and the same placement of the scalar coefficients (CPU or the tensors' device), so results are
// the diffusers results up to float32 rounding (bit-identical with the same LibTorch build).
//
// Not thread-safe: one scheduler per job. Multistep implementations keep references to recent
// model outputs and samples between steps (released by Reset() or SetTimesteps()).
//
// Errors: argument and sequence errors are statuses (below). LibTorch failures inside Step()
// (e.g. out of device memory) are thrown as c10::Error, as everywhere in the engine, and are
// converted at the worker boundary; the run must then be restarted with Reset().
#ifndef VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_H_
#define VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_H_

#include <memory>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace videogen::engine::scheduler {

class FlowScheduler {
 public:
  virtual ~FlowScheduler() = default;

  // Builds the grid of `num_steps` steps and resets the step state. INVALID_ARGUMENT unless
  // 1 <= num_steps <= num_train_timesteps (the previous grid is then kept).
  virtual absl::Status SetTimesteps(int num_steps) = 0;

  // Steps in the current grid; 0 before SetTimesteps().
  virtual int num_steps() const = 0;

  // The values to pass to the transformer, [num_steps] on the CPU, dtype as diffusers: int64 for
  // UniPC, float32 for FlowMatchEuler. Undefined before SetTimesteps().
  virtual const at::Tensor& timesteps() const = 0;

  // The noise levels, [num_steps + 1] float32 on the CPU; the last one is where the final step
  // lands (0 unless configured otherwise). Undefined before SetTimesteps().
  virtual const at::Tensor& sigmas() const = 0;

  // Advances `sample` (the latents at sigmas()[step_index], [B, C, ...]) by one step, given the
  // transformer's `model_output` at timesteps()[step_index] (same shape and device; e.g. bf16
  // while the latents are float32, as in the pipeline). Returns the latents at
  // sigmas()[step_index + 1]; the result's dtype follows diffusers (UniPC: the sample's dtype;
  // FlowMatchEuler: model_output's dtype). The inputs are not modified.
  //
  // The first Step() after SetTimesteps()/Reset() may start at any index (diffusers'
  // set_begin_index); each later call must pass the previous index + 1.
  // Errors (state unchanged): FAILED_PRECONDITION before SetTimesteps() or for an index out of
  // sequence; OUT_OF_RANGE for step_index outside [0, num_steps()); INVALID_ARGUMENT for
  // undefined, non-floating-point or mismatched (shape, device) tensors, fewer than 2 dims, or a
  // shape that differs from the previous step's.
  virtual absl::StatusOr<at::Tensor> Step(const at::Tensor& model_output, int step_index,
                                          const at::Tensor& sample) = 0;

  // Forgets the step state (history, position) and keeps the grid, to start a new run.
  virtual void Reset() = 0;

  // An independent scheduler in the same state (grid, history, position), e.g. to branch a run
  // at a step boundary. Step() never modifies tensors in place, so the copy shares them.
  virtual std::unique_ptr<FlowScheduler> Clone() const = 0;

 protected:
  // The argument checks of Step() shared by the implementations. `expected_index` is the index
  // the next call must pass, or -1 when any index may start a run; `previous_shape` is the sample
  // shape of the previous step (undefined/empty: none).
  static absl::Status CheckStepArguments(const at::Tensor& model_output, int step_index,
                                         const at::Tensor& sample, int num_steps,
                                         int expected_index, c10::IntArrayRef previous_shape);
};

}  // namespace videogen::engine::scheduler

#endif  // VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_H_
