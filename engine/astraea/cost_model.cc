#include "engine/astraea/cost_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/json.h"
#include "engine/common/json_config_reader.h"
#include "nlohmann/json.hpp"

namespace videogen::engine::astraea {
namespace {

constexpr char kSource[] = "step cost model";
constexpr char kTableKey[] = "step_seconds_by_level";
constexpr int kNumLevels = kDenseLevel + 1;

}  // namespace

absl::StatusOr<StepCostModel> StepCostModel::Create(std::vector<double> step_seconds_by_level) {
  if (step_seconds_by_level.size() != kNumLevels) {
    return absl::InvalidArgumentError(absl::StrCat(kTableKey, " has ", step_seconds_by_level.size(),
                                                   " values, expected ", kNumLevels));
  }
  for (int level = 0; level < kNumLevels; ++level) {
    const double seconds = step_seconds_by_level[level];
    if (!(std::isfinite(seconds) && seconds > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kTableKey, "[", level, "] = ", seconds, " must be finite and > 0"));
    }
  }
  return StepCostModel(std::move(step_seconds_by_level));
}

absl::StatusOr<StepCostModel> StepCostModel::FromFractions(double dense_step_seconds,
                                                           double fixed_fraction) {
  if (!(std::isfinite(dense_step_seconds) && dense_step_seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dense_step_seconds = ", dense_step_seconds, " must be finite and > 0"));
  }
  if (!(fixed_fraction >= 0 && fixed_fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fixed_fraction = ", fixed_fraction, " is outside [0, 1)"));
  }
  std::vector<double> seconds(kNumLevels);
  for (int level = 0; level < kNumLevels; ++level) {
    const double theta = static_cast<double>(level) / kDenseLevel;
    seconds[level] = dense_step_seconds * (fixed_fraction + (1 - fixed_fraction) * theta);
  }
  return StepCostModel(std::move(seconds));
}

absl::StatusOr<StepCostModel> StepCostModel::FromJson(absl::string_view text) {
  absl::StatusOr<nlohmann::json> json = ParseStrictJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(kSource, ": ", json.status().message()));
  }
  if (!json->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(kSource, ": not an object"));
  }
  for (const auto& [key, value] : json->items()) {
    if (key != kTableKey) {
      return absl::InvalidArgumentError(absl::StrCat(kSource, ": unknown field \"", key, "\""));
    }
  }
  const JsonConfigReader reader(*json, kSource);
  const auto table = json->find(kTableKey);
  if (table == json->end() || !table->is_array() || table->size() != kNumLevels ||
      !std::all_of(table->begin(), table->end(),
                   [](const nlohmann::json& v) { return v.is_number(); })) {
    return reader.Error(kTableKey, absl::StrCat("must be an array of ", kNumLevels, " numbers"));
  }
  absl::StatusOr<StepCostModel> model = Create(table->get<std::vector<double>>());
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(kSource, ": ", model.status().message()));
  }
  return model;
}

double StepCostModel::ScheduleSeconds(const BudgetSchedule& schedule) const {
  double seconds = 0;
  for (int level : schedule.levels()) seconds += StepSeconds(level);
  return seconds;
}

double StepCostModel::PredictedSpeedup(const BudgetSchedule& schedule) const {
  // The dense time is summed step by step like the schedule's, so a dense schedule gives exactly 1.
  double dense_seconds = 0;
  for (int step = 0; step < schedule.steps(); ++step) dense_seconds += StepSeconds(kDenseLevel);
  return dense_seconds / ScheduleSeconds(schedule);
}

std::string StepCostModel::ToJson() const {
  // nlohmann prints the shortest decimal that reads back to the same double.
  return nlohmann::json{{kTableKey, step_seconds_by_level_}}.dump();
}

}  // namespace videogen::engine::astraea
