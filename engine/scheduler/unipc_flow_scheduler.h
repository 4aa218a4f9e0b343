// diffusers' UniPCMultistepScheduler in flow mode (prediction_type "flow_prediction",
// use_flow_sigmas true; Wan2.1's default sampler): the UniPC predictor-corrector of order
// solver_order (1..3, B(h) variants bh1/bh2) on the data prediction x0 = x - sigma * v.
//
// Grid (SetTimesteps(N), float64 as diffusers' NumPy code): sigma_j = linspace(1, 1/T, N+1)[j],
// j < N, shifted by s (flow_shift), the first nudged by -1e-6 when within 1e-6 of 1; timesteps =
// trunc(sigma_j * T) as int64; sigmas = [sigma_0..sigma_{N-1}, 0 (or sigma_{N-1} for
// final_sigmas_type "sigma_min")] as float32. T = num_train_timesteps.
//
// Step k: corrector (UniC, order of step k-1) on the sample unless k = 0 or k-1 is in
// disable_corrector; predictor (UniP) of order min(solver_order, N - k with lower_order_final,
// steps taken + 1). Coefficients are 0-dim float32 tensors on the sample's device, the x0
// conversion uses the CPU sigma, and the result has the sample's dtype, all as diffusers.
//
// Not thread-safe (FlowScheduler). Between steps it references the last (corrected) sample and
// the last solver_order model-output conversions; callers must not modify a sample passed to
// Step() in place while the run continues.
#ifndef VIDEOGEN_ENGINE_SCHEDULER_UNIPC_FLOW_SCHEDULER_H_
#define VIDEOGEN_ENGINE_SCHEDULER_UNIPC_FLOW_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/scheduler/flow_scheduler.h"
#include "engine/scheduler/flow_scheduler_config.h"

namespace videogen::engine::scheduler {

class UniPcFlowScheduler final : public FlowScheduler {
 public:
  // INVALID_ARGUMENT unless config.class_name is kUniPcClassName; otherwise the errors of
  // ValidateFlowSchedulerConfig().
  static absl::StatusOr<std::unique_ptr<UniPcFlowScheduler>> Create(
      const FlowSchedulerConfig& config);

  absl::Status SetTimesteps(int num_steps) override;
  int num_steps() const override { return num_steps_; }
  const at::Tensor& timesteps() const override { return timesteps_; }
  const at::Tensor& sigmas() const override { return sigmas_; }
  absl::StatusOr<at::Tensor> Step(const at::Tensor& model_output, int step_index,
                                  const at::Tensor& sample) override;
  void Reset() override;
  std::unique_ptr<FlowScheduler> Clone() const override {
    return std::unique_ptr<FlowScheduler>(new UniPcFlowScheduler(*this));
  }

 private:
  explicit UniPcFlowScheduler(const FlowSchedulerConfig& config);

  // UniP from sigma k to sigma k+1; model_outputs_.back() is the conversion at step k.
  at::Tensor Predict(int k, const at::Tensor& sample, int order) const;
  // UniC of the sample at sigma k, predicted at step k-1 from `last_sample`, with the new
  // conversion `model_output`; model_outputs_.back() is still the conversion at step k-1.
  at::Tensor Correct(int k, const at::Tensor& model_output, const at::Tensor& last_sample,
                     const at::Tensor& sample, int order) const;

  const FlowSchedulerConfig config_;
  int num_steps_ = 0;
  at::Tensor timesteps_;  // [N] int64, CPU.
  at::Tensor sigmas_;     // [N+1] float32, CPU.

  // Run state (Reset()).
  std::vector<at::Tensor> model_outputs_;  // solver_order entries, oldest first; undefined: none.
  at::Tensor last_sample_;                 // Input of the last predictor.
  int lower_order_nums_ = 0;               // Steps taken, capped at solver_order.
  int this_order_ = 0;                     // Order of the last predictor.
  int next_index_ = -1;                    // Index the next Step() must pass; -1: any.
  std::vector<int64_t> sample_shape_;      // Of the previous step; empty: none.
};

}  // namespace videogen::engine::scheduler

#endif  // VIDEOGEN_ENGINE_SCHEDULER_UNIPC_FLOW_SCHEDULER_H_
