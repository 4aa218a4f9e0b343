#include "engine/accel/step_run.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {

absl::StatusOr<int64_t> StepRun::BeginStep(const at::Tensor& latents, const at::Tensor& timestep,
                                           const wan::Transformer::TextContext& text) {
  VG_RETURN_IF_ERROR(transformer_.ValidateInputs(latents, timestep, text));
  if (latents.size(0) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an acceleration policy runs one branch at a time, got a batch of ", latents.size(0)));
  }
  if (step_ >= steps_) {
    return absl::InvalidArgumentError(absl::StrCat("the run has ", steps_, " steps, all run"));
  }
  const int64_t n = transformer_.GridOf(latents).tokens();
  if (tokens_ >= 0 && n != tokens_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the token grid changed from ", tokens_, " to ", n, " tokens within a job"));
  }
  tokens_ = n;
  text_tokens_ = text.projected.size(1);
  return n;
}

void StepRun::AddBlockWork(const BlockWork& work) {
  flops_ += BlockFlops(transformer_.config(), text_tokens_, work);
}

void StepRun::EndStep() {
  dense_flops_ += DenseForwardFlops(transformer_.config(), tokens_, text_tokens_);
  ++step_;
}

}  // namespace videogen::engine::accel
