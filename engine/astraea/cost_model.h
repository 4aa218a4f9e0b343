// Predicts the time of denoising steps under a BudgetSchedule, and the schedule's speedup over the
// dense model, from the time of one step at each budget level θ = level / 10:
//
//   ScheduleSeconds(s)  = Σ_t StepSeconds(level_t)
//   PredictedSpeedup(s) = steps · StepSeconds(kDenseLevel) / ScheduleSeconds(s)
//
// A measured table (Create, FromJson) is used as it is: a step costs exactly its level's entry,
// with no interpolation or fitting across levels. The analytic model (FromFractions) takes a
// fraction f of the dense step to run on all tokens whatever θ (norms, modulation, the K/V
// projections: ARCHITECTURE.md "Performance model") and the rest to scale with θ:
//
//   StepSeconds(θ) = dense · (f + (1 − f) · θ),
//
// so a uniform schedule at θ has the ideal speedup 1 / (θ + (1 − θ) · f), e.g. 1 / 0.46 = 2.17×
// at θ = 0.4, f = 0.1.
//
// StepCostModel is an immutable value, safe to share between threads. Factories return
// INVALID_ARGUMENT naming the offending field.
#ifndef VIDEOGEN_ENGINE_ASTRAEA_COST_MODEL_H_
#define VIDEOGEN_ENGINE_ASTRAEA_COST_MODEL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/astraea/schedule.h"

namespace videogen::engine::astraea {

class StepCostModel {
 public:
  // `step_seconds_by_level[l]`: seconds of one step at level l; kDenseLevel + 1 values, each
  // finite and > 0.
  static absl::StatusOr<StepCostModel> Create(std::vector<double> step_seconds_by_level);
  // The analytic model above; dense_step_seconds finite and > 0, 0 <= fixed_fraction < 1. With
  // f = 0 a θ = 0 step costs nothing (an all-zero schedule then predicts an infinite speedup), so
  // that table is not one Create or FromJson accepts.
  static absl::StatusOr<StepCostModel> FromFractions(double dense_step_seconds,
                                                     double fixed_fraction);
  // Reads ToJson()'s format, {"step_seconds_by_level": [11 numbers]}: strict JSON, no other key,
  // values checked as by Create.
  static absl::StatusOr<StepCostModel> FromJson(absl::string_view json);

  // `level` in [0, kDenseLevel].
  double StepSeconds(int level) const { return step_seconds_by_level_[level]; }
  double ScheduleSeconds(const BudgetSchedule& schedule) const;
  // Exactly 1 for a dense schedule.
  double PredictedSpeedup(const BudgetSchedule& schedule) const;

  // Numbers are printed so that they read back exactly.
  std::string ToJson() const;

 private:
  explicit StepCostModel(std::vector<double> step_seconds_by_level)
      : step_seconds_by_level_(std::move(step_seconds_by_level)) {}

  std::vector<double> step_seconds_by_level_;
};

}  // namespace videogen::engine::astraea

#endif  // VIDEOGEN_ENGINE_ASTRAEA_COST_MODEL_H_
