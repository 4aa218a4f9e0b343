// The token budgets of one ASTRAEA denoising run: for each step t, the fraction θ_t of a block's
// tokens that are computed (the rest reuse their cache), with θ_t on the grid {0, 0.1, ..., 1.0}.
// θ = 1 is the dense step, θ = 0 skips every block. "Budget B" means a mean θ of B.
//
// BudgetSchedule is an immutable value, safe to share between threads. θ is stored as its grid
// level (θ = level / 10) so that equality and printing are exact. Steps are indexed from 0; the
// accessors taking `step` require 0 <= step < steps(). Factories return INVALID_ARGUMENT for
// anything that is not a schedule of 1..kMaxScheduleSteps grid values; the message names the
// offending value, and its step (0-based) when the steps differ.
#ifndef VIDEOGEN_ENGINE_ASTRAEA_SCHEDULE_H_
#define VIDEOGEN_ENGINE_ASTRAEA_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::astraea {

// θ = level / kDenseLevel, level in [0, kDenseLevel].
inline constexpr int kDenseLevel = 10;
inline constexpr int kMaxScheduleSteps = 1000;

class BudgetSchedule {
 public:
  // Each θ must lie within 1e-6 of a grid point (so 0.1 + 0.2 is accepted as 0.3).
  static absl::StatusOr<BudgetSchedule> FromThetas(const std::vector<double>& thetas);
  // Each level must be in [0, kDenseLevel].
  static absl::StatusOr<BudgetSchedule> FromLevels(const std::vector<int>& levels);
  // θ at every one of `steps` steps.
  static absl::StatusOr<BudgetSchedule> Uniform(int steps, double theta);
  // θ = 1 at every step: the dense model.
  static absl::StatusOr<BudgetSchedule> Dense(int steps);
  // θ at every step except the first `dense_first` and the last `dense_last`, which are dense
  // (the registry's fallback). Its mean exceeds θ when any end is dense. INVALID_ARGUMENT if
  // dense_first or dense_last is negative or dense_first + dense_last > steps.
  static absl::StatusOr<BudgetSchedule> WithDenseEnds(int steps, double theta, int dense_first,
                                                      int dense_last);
  // A schedule with dense ends (as WithDenseEnds) whose mean budget is as close to `budget` as
  // the grid allows: the middle steps take the two grid levels around the needed mean, the
  // higher ones spread evenly (the registry's fallback for a budget without a searched schedule).
  // INVALID_ARGUMENT if budget is outside (0, 1] or the dense ends alone exceed it.
  static absl::StatusOr<BudgetSchedule> WithMeanBudget(int steps, double budget, int dense_first,
                                                       int dense_last);
  // Reads the ToString() format: θ values separated by commas, whitespace around each allowed.
  static absl::StatusOr<BudgetSchedule> Parse(absl::string_view text);

  // INVALID_ARGUMENT unless steps() == expected_steps (the request's number of denoising steps).
  absl::Status Validate(int expected_steps) const;

  int steps() const { return static_cast<int>(levels_.size()); }
  int level(int step) const { return levels_[step]; }
  double theta(int step) const { return static_cast<double>(levels_[step]) / kDenseLevel; }
  const std::vector<int>& levels() const { return levels_; }
  // Mean θ over the steps.
  double MeanBudget() const;
  bool IsDense() const;

  // Tokens a block computes at `step` out of `num_tokens` >= 0: θ·N rounded half away from zero
  // (exact, in integers), so θ = 1 gives N and θ = 0 gives 0.
  int64_t TokensToCompute(int step, int64_t num_tokens) const;

  // θ values with one decimal, comma-separated: "0.4,0.5,1.0".
  std::string ToString() const;

  friend bool operator==(const BudgetSchedule& a, const BudgetSchedule& b) {
    return a.levels_ == b.levels_;
  }
  friend bool operator!=(const BudgetSchedule& a, const BudgetSchedule& b) { return !(a == b); }

 private:
  explicit BudgetSchedule(std::vector<int> levels) : levels_(std::move(levels)) {}

  std::vector<int> levels_;
};

// OK iff schedule.MeanBudget() lies in [(1 − tolerance)·budget, (1 + tolerance)·budget], the
// window the search's repair rule keeps candidates in (seed §3.3: tolerance 0.1). Otherwise
// INVALID_ARGUMENT with the mean and the window; also INVALID_ARGUMENT if budget is not in (0, 1]
// or tolerance not in [0, 1).
absl::Status CheckBudgetWindow(const BudgetSchedule& schedule, double budget,
                               double tolerance = 0.1);

}  // namespace videogen::engine::astraea

#endif  // VIDEOGEN_ENGINE_ASTRAEA_SCHEDULE_H_
