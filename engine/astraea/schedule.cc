#include "engine/astraea/schedule.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::astraea {
namespace {

// Admits θ computed in floating point (0.1 + 0.2, 1 - 0.7) without admitting real off-grid values.
constexpr double kGridTolerance = 1e-6;

absl::Status CheckSteps(int64_t steps) {
  if (steps < 1 || steps > kMaxScheduleSteps) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule has ", steps, " steps; it must have 1 to ", kMaxScheduleSteps));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ThetaLevel(double theta) {
  if (!(theta >= -kGridTolerance && theta <= 1 + kGridTolerance)) {
    return absl::InvalidArgumentError(absl::StrCat("theta = ", theta, " is outside [0, 1]"));
  }
  const int level = static_cast<int>(std::lround(theta * kDenseLevel));
  if (std::abs(theta - static_cast<double>(level) / kDenseLevel) > kGridTolerance) {
    return absl::InvalidArgumentError(
        absl::StrCat("theta = ", theta, " is not on the grid {0, 0.1, ..., 1}"));
  }
  return level;
}

}  // namespace

absl::StatusOr<BudgetSchedule> BudgetSchedule::FromThetas(const std::vector<double>& thetas) {
  VG_RETURN_IF_ERROR(CheckSteps(thetas.size()));
  std::vector<int> levels;
  levels.reserve(thetas.size());
  for (size_t step = 0; step < thetas.size(); ++step) {
    absl::StatusOr<int> level = ThetaLevel(thetas[step]);
    if (!level.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("step ", step, ": ", level.status().message()));
    }
    levels.push_back(*level);
  }
  return BudgetSchedule(std::move(levels));
}

absl::StatusOr<BudgetSchedule> BudgetSchedule::FromLevels(const std::vector<int>& levels) {
  VG_RETURN_IF_ERROR(CheckSteps(levels.size()));
  for (size_t step = 0; step < levels.size(); ++step) {
    if (levels[step] < 0 || levels[step] > kDenseLevel) {
      return absl::InvalidArgumentError(absl::StrCat("step ", step, ": level = ", levels[step],
                                                     " is outside [0, ", kDenseLevel, "]"));
    }
  }
  return BudgetSchedule(levels);
}

absl::StatusOr<BudgetSchedule> BudgetSchedule::Uniform(int steps, double theta) {
  return WithDenseEnds(steps, theta, 0, 0);
}

absl::StatusOr<BudgetSchedule> BudgetSchedule::Dense(int steps) {
  return WithDenseEnds(steps, 1.0, 0, 0);
}

absl::StatusOr<BudgetSchedule> BudgetSchedule::WithDenseEnds(int steps, double theta,
                                                             int dense_first, int dense_last) {
  VG_RETURN_IF_ERROR(CheckSteps(steps));
  VG_ASSIGN_OR_RETURN(const int level, ThetaLevel(theta));
  if (dense_first < 0 || dense_last < 0 || dense_first > steps - dense_last) {
    return absl::InvalidArgumentError(absl::StrCat("dense ends ", dense_first, " + ", dense_last,
                                                   " do not fit in ", steps, " steps"));
  }
  std::vector<int> levels(steps, level);
  std::fill(levels.begin(), levels.begin() + dense_first, kDenseLevel);
  std::fill(levels.end() - dense_last, levels.end(), kDenseLevel);
  return BudgetSchedule(std::move(levels));
}

absl::StatusOr<BudgetSchedule> BudgetSchedule::WithMeanBudget(int steps, double budget,
                                                              int dense_first, int dense_last) {
  VG_ASSIGN_OR_RETURN(BudgetSchedule schedule, WithDenseEnds(steps, 1.0, dense_first, dense_last));
  if (!(budget > 0 && budget <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("budget ", budget, " is outside (0, 1]"));
  }
  const int middle = steps - dense_first - dense_last;
  // Grid levels the middle steps share, in total, for a mean of `budget` over all steps.
  const int64_t total = std::llround(budget * kDenseLevel * steps) -
                        static_cast<int64_t>(kDenseLevel) * (dense_first + dense_last);
  if (total < 0 || (middle == 0 && total != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("budget ", budget, " is below what ",
                                                   dense_first + dense_last, " dense steps of ",
                                                   steps, " already take"));
  }
  if (middle == 0) return schedule;
  const int64_t base = std::min<int64_t>(total / middle, kDenseLevel);
  const int64_t raised = std::min<int64_t>(total - base * middle, middle);
  for (int i = 0; i < middle; ++i) {
    // Step i of the middle gets base + 1 when the running share of raised steps crosses an
    // integer, which spreads them evenly.
    const bool up = (i + 1) * raised / middle != i * raised / middle;
    schedule.levels_[dense_first + i] = static_cast<int>(base + (up ? 1 : 0));
  }
  return schedule;
}

absl::StatusOr<BudgetSchedule> BudgetSchedule::Parse(absl::string_view text) {
  std::vector<double> thetas;
  for (absl::string_view field : absl::StrSplit(text, ',')) {
    double theta;
    if (!absl::SimpleAtod(field, &theta)) {  // Skips surrounding whitespace.
      return absl::InvalidArgumentError(
          absl::StrCat("step ", thetas.size(), ": \"", field, "\" is not a number"));
    }
    thetas.push_back(theta);
  }
  return FromThetas(thetas);
}

absl::Status BudgetSchedule::Validate(int expected_steps) const {
  if (steps() != expected_steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule has ", steps(), " steps, expected ", expected_steps));
  }
  return absl::OkStatus();
}

double BudgetSchedule::MeanBudget() const {
  const int sum = std::accumulate(levels_.begin(), levels_.end(), 0);
  return static_cast<double>(sum) / (static_cast<double>(kDenseLevel) * steps());
}

bool BudgetSchedule::IsDense() const {
  return std::all_of(levels_.begin(), levels_.end(), [](int l) { return l == kDenseLevel; });
}

int64_t BudgetSchedule::TokensToCompute(int step, int64_t num_tokens) const {
  // Integers, because θ·N in doubles can fall just short of a half (0.7 · 45 = 31.499999999999996).
  // N is split as 10q + r so that level · N cannot overflow.
  const int64_t level = levels_[step];
  return num_tokens / kDenseLevel * level +
         (num_tokens % kDenseLevel * level + kDenseLevel / 2) / kDenseLevel;
}

std::string BudgetSchedule::ToString() const {
  return absl::StrJoin(levels_, ",", [](std::string* out, int level) {
    absl::StrAppend(out, level / kDenseLevel, ".", level % kDenseLevel);
  });
}

absl::Status CheckBudgetWindow(const BudgetSchedule& schedule, double budget, double tolerance) {
  if (!(budget > 0 && budget <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("budget = ", budget, " is outside (0, 1]"));
  }
  if (!(tolerance >= 0 && tolerance < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tolerance = ", tolerance, " is outside [0, 1)"));
  }
  const double low = (1 - tolerance) * budget;
  const double high = (1 + tolerance) * budget;
  // The mean is a multiple of 1 / (10 · steps) and often sits exactly on a bound, where the
  // rounding of the bound would decide (in doubles 0.9 · 0.4 > 0.36); the slack keeps bounds in.
  constexpr double kSlack = 1e-9;
  const double mean = schedule.MeanBudget();
  if (mean < low - kSlack || mean > high + kSlack) {
    return absl::InvalidArgumentError(absl::StrCat("mean budget ", mean, " is outside [", low, ", ",
                                                   high, "] (budget ", budget, " ± ",
                                                   tolerance * 100, "%)"));
  }
  return absl::OkStatus();
}

}  // namespace videogen::engine::astraea
