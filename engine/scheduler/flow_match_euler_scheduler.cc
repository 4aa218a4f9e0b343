#include "engine/scheduler/flow_match_euler_scheduler.h"

#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/scheduler/internal/numpy_math.h"

namespace videogen::engine::scheduler {

absl::StatusOr<std::unique_ptr<FlowMatchEulerScheduler>> FlowMatchEulerScheduler::Create(
    const FlowSchedulerConfig& config) {
  if (config.is_unipc() || config.class_name != kFlowMatchEulerClassName) {
    return absl::InvalidArgumentError(absl::StrCat("FlowMatchEulerScheduler needs _class_name ",
                                                   kFlowMatchEulerClassName, ", not ",
                                                   config.class_name));
  }
  VG_RETURN_IF_ERROR(ValidateFlowSchedulerConfig(config));
  return std::unique_ptr<FlowMatchEulerScheduler>(new FlowMatchEulerScheduler(config));
}

FlowMatchEulerScheduler::FlowMatchEulerScheduler(const FlowSchedulerConfig& config)
    : config_(config) {
  // diffusers' __init__ shifts the training grid T..1 / T in float32 torch arithmetic; only its
  // ends are used later. The expression mirrors `shift * s / (1 + (shift - 1) * s)`.
  const int64_t train = config_.num_train_timesteps;
  const at::Tensor ends = at::div(
      at::tensor({static_cast<float>(train), 1.0f}, at::TensorOptions().dtype(at::kFloat)), train);
  const at::Tensor shifted =
      at::div(at::mul(ends, config_.shift), at::add(at::mul(ends, config_.shift - 1), 1));
  sigma_max_ = shifted[0].item<double>();
  sigma_min_ = shifted[1].item<double>();
}

absl::Status FlowMatchEulerScheduler::SetTimesteps(int num_steps) {
  const int64_t train = config_.num_train_timesteps;
  if (num_steps < 1 || num_steps > train) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_steps = ", num_steps, " is outside [1, num_train_timesteps = ", train, "]"));
  }
  const double scale = static_cast<double>(train);
  const std::vector<double> grid =
      internal::NumpyLinspace(sigma_max_ * scale, sigma_min_ * scale, num_steps);
  at::Tensor sigmas = at::empty({num_steps}, at::kFloat);
  auto s = sigmas.accessor<float, 1>();
  for (int j = 0; j < num_steps; ++j) {
    s[j] = static_cast<float>(internal::ShiftSigma(config_.shift, grid[j] / scale));
  }
  timesteps_ = at::mul(sigmas, train);
  sigmas_ = at::cat({sigmas, at::zeros({1}, at::kFloat)});
  num_steps_ = num_steps;
  Reset();
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> FlowMatchEulerScheduler::Step(const at::Tensor& model_output, int k,
                                                         const at::Tensor& sample) {
  VG_RETURN_IF_ERROR(CheckStepArguments(model_output, k, sample, num_steps_, next_index_, {}));
  // diffusers keeps these sigmas on the pipeline's device: dt is a 0-dim float32 tensor there,
  // and dt * v has v's dtype (0-dim tensors do not promote; on the CPU dt is rounded to bf16
  // first because it is the first operand). Operand order as in diffusers.
  const c10::Device device = model_output.device();
  const at::Tensor dt = at::sub(sigmas_[k + 1].to(device), sigmas_[k].to(device));
  const at::Tensor next = at::add(sample.to(at::kFloat), at::mul(dt, model_output));
  next_index_ = k + 1;
  return next.to(model_output.scalar_type());
}

}  // namespace videogen::engine::scheduler
