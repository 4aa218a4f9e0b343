#include "engine/accel/teacache.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "ATen/ATen.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/accel/reuse.h"
#include "engine/accel/step_run.h"
#include "engine/accel/work.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {
namespace {

// mean(|current − previous|) / mean(|previous|) of float32 tensors. The skip decision needs it
// on the host: one device synchronisation per step, as in TeaCache's reference code.
double RelativeL1Change(const at::Tensor& current, const at::Tensor& previous) {
  return ((current - previous).abs().mean() / previous.abs().mean()).item<double>();
}

// One branch's TeaCache state (teacache.h).
class TeaCacheRun : public StepRun {
 public:
  TeaCacheRun(const TeaCacheOptions& options, const wan::Transformer& transformer, int steps)
      : StepRun(transformer, steps), options_(options) {}

  absl::StatusOr<at::Tensor> Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                     const wan::Transformer::TextContext& text) override;
  int64_t CacheBytes() const override;

 private:
  // p(x) as a change estimate: clamped at 0.
  double Rescale(double change) const;

  // Its own copy, change_log included: the run does not need the policy.
  const TeaCacheOptions options_;
  double accumulated_ = 0;
  at::Tensor previous_input_;   // m_{t−1}, float32, while changes are measured.
  at::Tensor residual_;         // R of the last computed step, while a later step may skip.
  at::Tensor previous_output_;  // The last output, float32, with a change log.
};

absl::StatusOr<at::Tensor> TeaCacheRun::Forward(const at::Tensor& latents,
                                                const at::Tensor& timestep,
                                                const wan::Transformer::TextContext& text) {
  VG_ASSIGN_OR_RETURN(const int64_t tokens, BeginStep(latents, timestep, text));
  wan::Transformer::Tokens embedded = transformer().Embed(latents);
  const wan::Transformer::Conditioning conditioning = transformer().Condition(timestep, text);
  const bool caching = options_.threshold > 0;
  TeaCacheChangeLog* const log = options_.change_log.get();

  // x_t of this step, recorded with y_t once the output is known.
  std::optional<double> input_change;
  if (caching || log != nullptr) {
    const at::Tensor input =
        transformer().ModulatedInput(0, embedded.hidden, conditioning).to(at::kFloat);
    if (previous_input_.defined()) {
      input_change = RelativeL1Change(input, previous_input_);
      accumulated_ += Rescale(*input_change);
    }
    previous_input_ = input;
  }
  // Written as "not below" so that a NaN change (an all-zero previous input) computes the step.
  const bool compute = step() == 0 || step() + 1 == steps() || !(accumulated_ < options_.threshold);

  at::Tensor hidden = std::move(embedded.hidden);
  if (compute) {
    const at::Tensor input = hidden;
    for (int i = 0; i < transformer().config().num_layers; ++i) {
      hidden = transformer().Block(i, hidden, conditioning, embedded.rope);
      AddBlockWork(DenseBlockWork(tokens));
    }
    accumulated_ = 0;
    // The last step is always computed, so a residual taken at the step before it is never used.
    residual_ = caching && step() + 2 < steps() ? hidden - input : at::Tensor();
  } else {
    hidden = hidden + residual_;
  }
  at::Tensor out = transformer().Head(hidden, conditioning.temb, embedded.grid);

  if (log != nullptr) {
    // A copy even in float32: the caller owns `out` and may update it in place.
    const at::Tensor output = out.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    // Both changes are measured from the second step on.
    if (input_change.has_value() && previous_output_.defined()) {
      log->Add(*input_change, RelativeL1Change(output, previous_output_));
    }
    previous_output_ = output;
  }
  EndStep();
  return out;
}

double TeaCacheRun::Rescale(double change) const {
  double value = 0;
  for (const double coefficient : options_.coefficients) value = value * change + coefficient;
  return std::max(value, 0.0);
}

int64_t TeaCacheRun::CacheBytes() const {
  int64_t bytes = 0;
  for (const at::Tensor* t : {&previous_input_, &residual_, &previous_output_}) {
    if (t->defined()) bytes += t->nbytes();
  }
  return bytes;
}

}  // namespace

void TeaCacheChangeLog::Add(double input_change, double output_change) {
  absl::MutexLock lock(&mu_);
  pairs_.emplace_back(input_change, output_change);
}

std::vector<std::pair<double, double>> TeaCacheChangeLog::Pairs() const {
  absl::MutexLock lock(&mu_);
  return pairs_;
}

absl::StatusOr<std::unique_ptr<TeaCachePolicy>> TeaCachePolicy::Create(
    const TeaCacheOptions& options) {
  if (!std::isfinite(options.threshold) || options.threshold < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("threshold ", options.threshold, " is not a finite number >= 0"));
  }
  if (options.coefficients.empty()) {
    return absl::InvalidArgumentError("the rescale polynomial has no coefficients");
  }
  for (size_t i = 0; i < options.coefficients.size(); ++i) {
    if (!std::isfinite(options.coefficients[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("coefficient ", i, " is ", options.coefficients[i], ", not finite"));
    }
  }
  return std::unique_ptr<TeaCachePolicy>(new TeaCachePolicy(options));
}

std::string TeaCachePolicy::Describe() const {
  return absl::StrCat("teacache(threshold=", FormatNumber(options_.threshold), ",coefficients=[",
                      absl::StrJoin(options_.coefficients, ",",
                                    [](std::string* out, double coefficient) {
                                      out->append(FormatNumber(coefficient));
                                    }),
                      "])");
}

absl::StatusOr<std::unique_ptr<BranchRun>> TeaCachePolicy::Start(
    const wan::Transformer& transformer, int steps) const {
  VG_RETURN_IF_ERROR(ValidateSteps(steps));
  return std::make_unique<TeaCacheRun>(options_, transformer, steps);
}

absl::StatusOr<std::vector<double>> FitRescaleCoefficients(
    const std::vector<double>& input_changes, const std::vector<double>& output_changes,
    int degree) {
  if (input_changes.size() != output_changes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(input_changes.size(), " input changes but ",
                                                   output_changes.size(), " output changes"));
  }
  if (degree < 0) {
    return absl::InvalidArgumentError(absl::StrCat("degree ", degree, " is negative"));
  }
  for (size_t i = 0; i < input_changes.size(); ++i) {
    if (!std::isfinite(input_changes[i]) || !std::isfinite(output_changes[i])) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", i, " (", input_changes[i], ", ",
                                                     output_changes[i], ") is not finite"));
    }
  }
  const int64_t samples = static_cast<int64_t>(input_changes.size());
  if (samples < int64_t{degree} + 1) {
    return absl::InvalidArgumentError(absl::StrCat("a polynomial of degree ", degree,
                                                   " needs at least ", degree + 1, " samples, got ",
                                                   samples));
  }
  const at::TensorOptions float64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor x = at::tensor(at::ArrayRef<double>(input_changes), float64);
  const at::Tensor y = at::tensor(at::ArrayRef<double>(output_changes), float64);
  // Vandermonde matrix, highest power first, solved by SVD (better conditioned than the normal
  // equations, which square the matrix's condition number); its numerical rank tells whether
  // the input changes are spread enough to determine every coefficient.
  const at::Tensor powers = at::arange(degree, -1, -1, float64);
  const at::Tensor vandermonde = x.unsqueeze(1).pow(powers.unsqueeze(0));
  const auto fit = at::linalg_lstsq(vandermonde, y.unsqueeze(1), /*rcond=*/c10::nullopt,
                                    /*driver=*/"gelsd");
  const int64_t rank = std::get<2>(fit).item<int64_t>();
  if (rank < degree + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the input changes determine only ", rank, " of the ", degree + 1,
        " coefficients of a degree-", degree, " polynomial (too few distinct values)"));
  }
  const at::Tensor coefficients = std::get<0>(fit).squeeze(1).contiguous();
  return std::vector<double>(coefficients.data_ptr<double>(),
                             coefficients.data_ptr<double>() + degree + 1);
}

}  // namespace videogen::engine::accel
