// Settings of a flow-matching scheduler, read from the `scheduler/scheduler_config.json` of a
// diffusers-format checkpoint. Two diffusers classes are supported, with the settings Wan2.1 uses:
//   - UniPCMultistepScheduler in flow mode (prediction_type "flow_prediction",
//     use_flow_sigmas true): Wan2.1's default;
//   - FlowMatchEulerDiscreteScheduler with a static shift.
// Semantics follow diffusers 0.42.1 (tests/golden/VERSIONS.json).
#ifndef VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_CONFIG_H_
#define VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::scheduler {

// `_class_name` values.
inline constexpr char kUniPcClassName[] = "UniPCMultistepScheduler";
inline constexpr char kFlowMatchEulerClassName[] = "FlowMatchEulerDiscreteScheduler";

struct FlowSchedulerConfig {
  enum class SolverType { kBh1, kBh2 };
  enum class FinalSigma { kZero, kSigmaMin };

  // kUniPcClassName or kFlowMatchEulerClassName.
  std::string class_name = kUniPcClassName;
  int64_t num_train_timesteps = 1000;
  // The static sigma shift s: sigma -> s*sigma / (1 + (s-1)*sigma). JSON "flow_shift" (UniPC) or
  // "shift" (FlowMatchEuler).
  double shift = 1.0;

  // UniPC only (ignored for FlowMatchEuler).
  int64_t solver_order = 2;                   // 1..3.
  SolverType solver_type = SolverType::kBh2;  // "midpoint"/"heun"/"logrho" read as bh2.
  bool lower_order_final = true;
  // Step indices k whose corrector (applied at step k+1) is skipped.
  std::vector<int64_t> disable_corrector;
  FinalSigma final_sigmas_type = FinalSigma::kZero;

  bool is_unipc() const { return class_name == kUniPcClassName; }
};

// Checks a config built in code (the parser calls it too). UNIMPLEMENTED for another class or
// solver_order > 3; INVALID_ARGUMENT naming the field for num_train_timesteps outside
// [1, 1000000], a shift that is not finite and > 0, solver_order < 1, and lower_order_final
// false with final_sigmas_type "zero" and solver_order >= 2, and solver_type bh1 with
// final_sigmas_type "zero" (diffusers' last step onto sigma 0 then returns inf/NaN: a division by
// the zero log-SNR ratio, or B(h) = -inf times 0).
absl::Status ValidateFlowSchedulerConfig(const FlowSchedulerConfig& config);

// Parses scheduler_config.json text. Keys starting with '_' are ignored except `_class_name`,
// which is required. A missing key takes the diffusers 0.42.1 constructor default (so a UniPC
// file without "prediction_type" is an epsilon scheduler, which is UNIMPLEMENTED). Errors name
// `source` and the field:
//   INVALID_ARGUMENT  malformed JSON, repeated key, unknown key for the class, ill-typed value,
//                     a value diffusers rejects (e.g. solver_type "bh3", predict_x0 false with
//                     flow_prediction), and the checks of ValidateFlowSchedulerConfig;
//   UNIMPLEMENTED     another `_class_name`, and settings diffusers supports that change results
//                     but are not implemented: prediction_type other than flow_prediction,
//                     use_flow_sigmas false, Karras/exponential/beta sigmas, dynamic shifting,
//                     shift_terminal, thresholding, solver_p, invert_sigmas,
//                     stochastic_sampling, solver_order > 3.
// Settings without effect in flow mode (betas, timestep_spacing, steps_offset, sigma_min/max,
// ...) are type-checked and ignored.
absl::StatusOr<FlowSchedulerConfig> ParseFlowSchedulerConfig(absl::string_view json,
                                                             absl::string_view source);

// Reads and parses `path`; NOT_FOUND if unreadable.
absl::StatusOr<FlowSchedulerConfig> LoadFlowSchedulerConfig(const std::string& path);

}  // namespace videogen::engine::scheduler

#endif  // VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_CONFIG_H_
