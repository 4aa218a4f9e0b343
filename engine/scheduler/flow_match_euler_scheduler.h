// diffusers' FlowMatchEulerDiscreteScheduler with a static shift: the first-order (Euler) flow
// ODE step x' = x + (sigma_{k+1} - sigma_k) * v.
//
// Grid (SetTimesteps(N)): the training grid's shifted end points sigma_max = shift(1) and
// sigma_min = shift(1/T) (float32, T = num_train_timesteps); t = linspace(sigma_max*T,
// sigma_min*T, N) in float64; sigma = shift(t/T) in float64 (the ends are shifted a second
// time, as in diffusers) and then float32; timesteps = sigma * T in float32 (fractional);
// sigmas = [sigma..., 0].
//
// Step: the sample is upcast to float32, dt * v is computed in model_output's dtype (dt a 0-dim
// float32 tensor on the tensors' device), and the result is cast to model_output's dtype, so in
// a bf16 pipeline the latents become bf16 after the first step, as in diffusers.
//
// Not thread-safe (FlowScheduler). Keeps no tensors between steps.
#ifndef VIDEOGEN_ENGINE_SCHEDULER_FLOW_MATCH_EULER_SCHEDULER_H_
#define VIDEOGEN_ENGINE_SCHEDULER_FLOW_MATCH_EULER_SCHEDULER_H_

#include <memory>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/scheduler/flow_scheduler.h"
#include "engine/scheduler/flow_scheduler_config.h"

namespace videogen::engine::scheduler {

class FlowMatchEulerScheduler final : public FlowScheduler {
 public:
  // INVALID_ARGUMENT unless config.class_name is kFlowMatchEulerClassName; otherwise the errors of
  // ValidateFlowSchedulerConfig().
  static absl::StatusOr<std::unique_ptr<FlowMatchEulerScheduler>> Create(
      const FlowSchedulerConfig& config);

  absl::Status SetTimesteps(int num_steps) override;
  int num_steps() const override { return num_steps_; }
  const at::Tensor& timesteps() const override { return timesteps_; }
  const at::Tensor& sigmas() const override { return sigmas_; }
  absl::StatusOr<at::Tensor> Step(const at::Tensor& model_output, int step_index,
                                  const at::Tensor& sample) override;
  void Reset() override { next_index_ = -1; }
  std::unique_ptr<FlowScheduler> Clone() const override {
    return std::unique_ptr<FlowScheduler>(new FlowMatchEulerScheduler(*this));
  }

 private:
  explicit FlowMatchEulerScheduler(const FlowSchedulerConfig& config);

  const FlowSchedulerConfig config_;
  double sigma_max_ = 1.0;  // Shifted ends of the training grid (float32 values).
  double sigma_min_ = 0.0;
  int num_steps_ = 0;
  at::Tensor timesteps_;  // [N] float32, CPU.
  at::Tensor sigmas_;     // [N+1] float32, CPU.
  int next_index_ = -1;   // Index the next Step() must pass; -1: any.
};

}  // namespace videogen::engine::scheduler

#endif  // VIDEOGEN_ENGINE_SCHEDULER_FLOW_MATCH_EULER_SCHEDULER_H_
