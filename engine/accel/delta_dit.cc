#include "engine/accel/delta_dit.h"

#include <cstdint>
#include <utility>

#include "ATen/ATen.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/accel/reuse.h"
#include "engine/accel/step_run.h"
#include "engine/accel/work.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {
namespace {

// The schedule of the header, as functions of the options, so that a run needs no policy.
bool IsFull(const DeltaDitOptions& options, int step) {
  if (step < options.first_partial_step || step >= options.end_partial_step) return true;
  const bool second_phase =
      options.switch_step > options.first_partial_step && step >= options.switch_step;
  const int phase_start = second_phase ? options.switch_step : options.first_partial_step;
  return (step - phase_start) % options.interval == 0;
}

DeltaDitPolicy::BlockRange Cached(const DeltaDitOptions& options, int layers, int step) {
  if (step < options.switch_step) return {layers - options.cached_blocks, layers};
  return {0, options.cached_blocks};
}

class DeltaDitRun : public StepRun {
 public:
  DeltaDitRun(const DeltaDitOptions& options, const wan::Transformer& transformer, int steps)
      : StepRun(transformer, steps),
        options_(options),
        layers_(static_cast<int>(transformer.config().num_layers)) {}

  absl::StatusOr<at::Tensor> Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                     const wan::Transformer::TextContext& text) override {
    VG_ASSIGN_OR_RETURN(const int64_t tokens, BeginStep(latents, timestep, text));
    const bool full = IsFull(options_, step());
    const DeltaDitPolicy::BlockRange range = Cached(options_, layers_, step());

    wan::Transformer::Tokens embedded = transformer().Embed(latents);
    const wan::Transformer::Conditioning conditioning = transformer().Condition(timestep, text);
    at::Tensor hidden = std::move(embedded.hidden);
    auto run_blocks = [&](int begin, int end) {
      for (int i = begin; i < end; ++i) {
        hidden = transformer().Block(i, hidden, conditioning, embedded.rope);
        AddBlockWork(DenseBlockWork(tokens));
      }
    };
    run_blocks(0, range.begin);
    if (full) {
      const at::Tensor input = hidden;
      run_blocks(range.begin, range.end);
      // Only the next step can use the residual (a later partial step is preceded by a full
      // step of its own phase), so it is kept just when that step is partial, and freed
      // otherwise.
      const bool next_partial = step() + 1 < steps() && !IsFull(options_, step() + 1);
      residual_ = next_partial ? hidden - input : at::Tensor();
    } else {
      hidden = hidden + residual_;
    }
    run_blocks(range.end, layers_);
    at::Tensor out = transformer().Head(hidden, conditioning.temb, embedded.grid);
    EndStep();
    return out;
  }

  int64_t CacheBytes() const override { return residual_.defined() ? residual_.nbytes() : 0; }

 private:
  const DeltaDitOptions options_;
  const int layers_;
  // The cached range's output − input at the last full step, while the next step needs it.
  at::Tensor residual_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeltaDitPolicy>> DeltaDitPolicy::Create(
    const DeltaDitOptions& options) {
  if (options.cached_blocks < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cached_blocks ", options.cached_blocks, " is below 1"));
  }
  if (options.interval < 1) {
    return absl::InvalidArgumentError(absl::StrCat("interval ", options.interval, " is below 1"));
  }
  if (options.switch_step < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("switch_step ", options.switch_step, " is negative"));
  }
  if (options.first_partial_step < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("first_partial_step ", options.first_partial_step, " is negative"));
  }
  if (options.end_partial_step < options.first_partial_step) {
    return absl::InvalidArgumentError(absl::StrCat("end_partial_step ", options.end_partial_step,
                                                   " is before first_partial_step ",
                                                   options.first_partial_step));
  }
  return std::unique_ptr<DeltaDitPolicy>(new DeltaDitPolicy(options));
}

std::string DeltaDitPolicy::Describe() const {
  return absl::StrCat("delta_dit(switch=", FormatNumber(options_.switch_step),
                      ",interval=", FormatNumber(options_.interval),
                      ",start=", FormatNumber(options_.first_partial_step),
                      ",end=", FormatNumber(options_.end_partial_step),
                      ",blocks=", FormatNumber(options_.cached_blocks), ")");
}

absl::StatusOr<std::unique_ptr<BranchRun>> DeltaDitPolicy::Start(
    const wan::Transformer& transformer, int steps) const {
  VG_RETURN_IF_ERROR(ValidateSteps(steps));
  if (options_.end_partial_step > steps) {
    return absl::InvalidArgumentError(absl::StrCat("end_partial_step ", options_.end_partial_step,
                                                   " is past the run's ", steps, " steps"));
  }
  if (options_.switch_step > steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("switch_step ", options_.switch_step, " is past the run's ", steps, " steps"));
  }
  const int64_t layers = transformer.config().num_layers;
  if (options_.cached_blocks > layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cached_blocks ", options_.cached_blocks, " is more than the model's ", layers, " blocks"));
  }
  return std::make_unique<DeltaDitRun>(options_, transformer, steps);
}

bool DeltaDitPolicy::IsFullStep(int step) const { return IsFull(options_, step); }

DeltaDitPolicy::BlockRange DeltaDitPolicy::CachedRange(int step, int num_layers) const {
  return Cached(options_, num_layers, step);
}

}  // namespace videogen::engine::accel
