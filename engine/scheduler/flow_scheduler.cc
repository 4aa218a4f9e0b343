#include "engine/scheduler/flow_scheduler.h"

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace videogen::engine::scheduler {
namespace {

std::string Describe(const at::Tensor& tensor) {
  std::ostringstream out;
  out << tensor.sizes() << " " << tensor.scalar_type() << " on " << tensor.device();
  return out.str();
}

}  // namespace

absl::Status FlowScheduler::CheckStepArguments(const at::Tensor& model_output, int step_index,
                                               const at::Tensor& sample, int num_steps,
                                               int expected_index,
                                               c10::IntArrayRef previous_shape) {
  if (num_steps == 0) {
    return absl::FailedPreconditionError("Step() before SetTimesteps()");
  }
  if (step_index < 0 || step_index >= num_steps) {
    return absl::OutOfRangeError(
        absl::StrCat("step_index ", step_index, " is outside [0, ", num_steps, ")"));
  }
  if (expected_index >= 0 && step_index != expected_index) {
    return absl::FailedPreconditionError(absl::StrCat(
        "step_index ", step_index, " out of sequence: the previous step was ", expected_index - 1,
        ", so the next must be ", expected_index, " (Reset() to start a new run)"));
  }
  if (!model_output.defined() || !sample.defined()) {
    return absl::InvalidArgumentError("Step() needs a defined model_output and sample");
  }
  if (!at::isFloatingType(model_output.scalar_type()) ||
      !at::isFloatingType(sample.scalar_type()) || sample.dim() < 2 ||
      model_output.sizes() != sample.sizes() || model_output.device() != sample.device()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Step() needs floating-point model_output and sample of one shape [B, C, "
                     "...] on one device; got model_output ",
                     Describe(model_output), ", sample ", Describe(sample)));
  }
  if (!previous_shape.empty() && sample.sizes() != previous_shape) {
    std::ostringstream previous;
    previous << previous_shape;
    return absl::InvalidArgumentError(absl::StrCat("sample ", Describe(sample),
                                                   " differs in shape from the previous step's ",
                                                   previous.str()));
  }
  return absl::OkStatus();
}

}  // namespace videogen::engine::scheduler
