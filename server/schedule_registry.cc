#include "server/schedule_registry.h"

#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/astraea/cost_model.h"
#include "engine/common/status_macros.h"
#include "proto/videogen_service.pb.h"
#include "server/random_id.h"
#include "server/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"

namespace videogen::server {
namespace {

using ::videogen::v1::Schedule;
using ::videogen::v1::ScheduleKey;
using sqlite::Statement;

constexpr int kSchemaVersion = 1;

// Budgets are compared at 1e-4 resolution (they are floats in the API).
int64_t BudgetKey(float budget) { return std::llround(static_cast<double>(budget) * 1e4); }

absl::Status ValidateKey(const ScheduleKey& key) {
  if (key.model_id().empty() || key.model_id().size() > 128) {
    return absl::InvalidArgumentError("key.model_id must be 1 to 128 bytes");
  }
  if (key.height() <= 0 || key.height() % 16 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("key.height = ", key.height(), " is not a positive multiple of 16"));
  }
  if (key.width() <= 0 || key.width() % 16 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("key.width = ", key.width(), " is not a positive multiple of 16"));
  }
  if (key.frames() <= 0 || key.frames() % 4 != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key.frames = ", key.frames(), " is not of the form 4k + 1"));
  }
  if (key.steps() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("key.steps = ", key.steps(), " is not >= 1"));
  }
  return absl::OkStatus();
}

absl::Status ValidateBudget(float budget) {
  if (!(budget > 0 && budget <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("budget = ", budget, " is outside (0, 1]"));
  }
  return absl::OkStatus();
}

// The grid levels of `thetas` (each within 1e-4 of a multiple of 0.1 in [0, 1]).
absl::StatusOr<std::vector<int>> GridLevels(const Schedule& schedule) {
  std::vector<int> levels;
  for (int t = 0; t < schedule.thetas_size(); ++t) {
    const double scaled = schedule.thetas(t) * engine::astraea::kDenseLevel;
    const long level = std::lround(scaled);
    if (!(std::fabs(scaled - level) <= 1e-3) || level < 0 ||
        level > engine::astraea::kDenseLevel) {
      return absl::InvalidArgumentError(absl::StrCat(
          "thetas[", t, "] = ", schedule.thetas(t), " is not on the grid {0, 0.1, ..., 1}"));
    }
    levels.push_back(static_cast<int>(level));
  }
  return levels;
}

// SHA-256 over the fields the checksum covers, serialized deterministically.
absl::StatusOr<std::string> Checksum(const Schedule& schedule) {
  Schedule covered;
  *covered.mutable_key() = schedule.key();
  covered.set_budget(schedule.budget());
  *covered.mutable_thetas() = schedule.thetas();
  covered.set_searched(schedule.searched());
  if (schedule.has_provenance()) *covered.mutable_provenance() = schedule.provenance();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    covered.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

float PredictedSpeedup(const engine::astraea::BudgetSchedule& schedule) {
  const absl::StatusOr<engine::astraea::StepCostModel> cost =
      engine::astraea::StepCostModel::FromFractions(1.0, ScheduleRegistry::kFixedStepFraction);
  return static_cast<float>(cost->PredictedSpeedup(schedule));
}

absl::StatusOr<Schedule> ParseVerified(const std::string& bytes) {
  Schedule schedule;
  if (!schedule.ParseFromString(bytes)) {
    return absl::DataLossError("schedule registry: unreadable schedule record");
  }
  VG_ASSIGN_OR_RETURN(const std::string checksum, Checksum(schedule));
  if (checksum != schedule.checksum()) {
    return absl::DataLossError(absl::StrCat("schedule ", schedule.id(), " version ",
                                            schedule.version(), " fails its checksum"));
  }
  return schedule;
}

// Relative distance between two keys of one model and step count.
double KeyDistance(const ScheduleKey& a, int height, int width, int frames) {
  return std::fabs(height - a.height()) / static_cast<double>(a.height()) +
         std::fabs(width - a.width()) / static_cast<double>(a.width()) +
         std::fabs(frames - a.frames()) / static_cast<double>(a.frames());
}

}  // namespace

absl::StatusOr<engine::astraea::BudgetSchedule> ToBudgetSchedule(const Schedule& schedule) {
  VG_ASSIGN_OR_RETURN(const std::vector<int> levels, GridLevels(schedule));
  return engine::astraea::BudgetSchedule::FromLevels(levels);
}

absl::StatusOr<std::unique_ptr<ScheduleRegistry>> ScheduleRegistry::Open(const std::string& path) {
  absl::StatusOr<sqlite::Database> db = sqlite::Open(
      path, "schedule registry", kSchemaVersion,
      {"CREATE TABLE schedules (id TEXT NOT NULL, version INTEGER NOT NULL, model_id TEXT NOT "
       "NULL, height INTEGER NOT NULL, width INTEGER NOT NULL, frames INTEGER NOT NULL, steps "
       "INTEGER NOT NULL, budget_e4 INTEGER NOT NULL, searched INTEGER NOT NULL, latest INTEGER "
       "NOT NULL, record BLOB NOT NULL, PRIMARY KEY (id, version))",
       "CREATE INDEX schedules_by_key ON schedules(model_id, steps, latest, height, width, "
       "frames, budget_e4)"});
  if (!db.ok()) return db.status();
  return std::unique_ptr<ScheduleRegistry>(new ScheduleRegistry(*std::move(db)));
}

absl::StatusOr<Schedule> ScheduleRegistry::PutLocked(const Schedule& input) {
  VG_RETURN_IF_ERROR(ValidateKey(input.key()));
  VG_RETURN_IF_ERROR(ValidateBudget(input.budget()));
  if (input.thetas_size() != input.key().steps()) {
    return absl::InvalidArgumentError(absl::StrCat("thetas has ", input.thetas_size(),
                                                   " values; key.steps is ", input.key().steps()));
  }
  VG_ASSIGN_OR_RETURN(const std::vector<int> levels, GridLevels(input));
  VG_ASSIGN_OR_RETURN(const auto budget_schedule,
                      engine::astraea::BudgetSchedule::FromLevels(levels));
  const double mean = budget_schedule.MeanBudget();
  if (mean <= 0 || mean < 0.9 * input.budget() - 1e-6 || mean > 1.1 * input.budget() + 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("the mean of thetas (", mean, ") is outside [0.9, 1.1] x budget (",
                     input.budget(), ")"));
  }
  if (input.provenance().fitness_mse() < 0) {
    return absl::InvalidArgumentError("provenance.fitness_mse is negative");
  }
  if (input.measured_speedup() < 0) {
    return absl::InvalidArgumentError("measured_speedup is negative");
  }

  Schedule schedule = input;
  schedule.clear_thetas();
  for (const int level : levels) {
    schedule.add_thetas(static_cast<float>(level) / engine::astraea::kDenseLevel);
  }
  schedule.set_predicted_speedup(PredictedSpeedup(budget_schedule));
  const ScheduleKey& key = schedule.key();
  {
    Statement existing(db_.get(),
                       "SELECT id, version FROM schedules WHERE model_id = ?1 AND height = ?2 AND "
                       "width = ?3 AND frames = ?4 AND steps = ?5 AND budget_e4 = ?6 AND "
                       "latest = 1");
    VG_RETURN_IF_ERROR(existing.Prepared());
    existing.Bind(1, key.model_id()).Bind(2, key.height()).Bind(3, key.width());
    existing.Bind(4, key.frames()).Bind(5, key.steps()).Bind(6, BudgetKey(schedule.budget()));
    VG_ASSIGN_OR_RETURN(const bool found, existing.Step());
    schedule.set_id(found ? existing.Text(0) : RandomHexId());
    schedule.set_version(found ? existing.Int(1) + 1 : 1);
  }
  VG_ASSIGN_OR_RETURN(*schedule.mutable_checksum(), Checksum(schedule));
  Statement retire(db_.get(), "UPDATE schedules SET latest = 0 WHERE id = ?1");
  VG_RETURN_IF_ERROR(retire.Prepared());
  VG_RETURN_IF_ERROR(retire.Bind(1, schedule.id()).Run());
  Statement insert(db_.get(),
                   "INSERT INTO schedules (id, version, model_id, height, width, frames, steps, "
                   "budget_e4, searched, latest, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                   "?9, 1, ?10)");
  VG_RETURN_IF_ERROR(insert.Prepared());
  insert.Bind(1, schedule.id()).Bind(2, schedule.version()).Bind(3, key.model_id());
  insert.Bind(4, key.height()).Bind(5, key.width()).Bind(6, key.frames()).Bind(7, key.steps());
  insert.Bind(8, BudgetKey(schedule.budget())).Bind(9, schedule.searched() ? 1 : 0);
  insert.BindBlob(10, schedule.SerializeAsString());
  VG_RETURN_IF_ERROR(insert.Run());
  return schedule;
}

absl::StatusOr<Schedule> ScheduleRegistry::Put(const Schedule& schedule) {
  absl::MutexLock lock(&mu_);
  Schedule stored;
  VG_RETURN_IF_ERROR(sqlite::Transaction(db_.get(), [&]() -> absl::Status {
    VG_ASSIGN_OR_RETURN(stored, PutLocked(schedule));
    return absl::OkStatus();
  }));
  return stored;
}

absl::StatusOr<Schedule> ScheduleRegistry::Get(const std::string& id, int64_t version) const {
  absl::MutexLock lock(&mu_);
  Statement select(db_.get(), version == 0
                                  ? "SELECT record FROM schedules WHERE id = ?1 AND latest = 1"
                                  : "SELECT record FROM schedules WHERE id = ?1 AND version = ?2");
  VG_RETURN_IF_ERROR(select.Prepared());
  select.Bind(1, id);
  if (version != 0) select.Bind(2, version);
  VG_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) {
    return absl::NotFoundError(version == 0
                                   ? absl::StrCat("schedule ", id, " not found")
                                   : absl::StrCat("schedule ", id, " version ", version,
                                                  " not found"));
  }
  return ParseVerified(select.Blob(0));
}

absl::Status ScheduleRegistry::Delete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  Statement remove(db_.get(), "DELETE FROM schedules WHERE id = ?1");
  VG_RETURN_IF_ERROR(remove.Prepared());
  VG_RETURN_IF_ERROR(remove.Bind(1, id).Run());
  if (sqlite3_changes(db_.get()) == 0) {
    return absl::NotFoundError(absl::StrCat("schedule ", id, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ScheduleRegistry::ListResult> ScheduleRegistry::List(
    const ListOptions& options) const {
  if (options.page_size < 1 || options.page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size = ", options.page_size, " is outside [1, 1000]"));
  }
  int64_t offset = 0;
  if (!options.page_token.empty() &&
      (!absl::SimpleAtoi(options.page_token, &offset) || offset < 0)) {
    return absl::InvalidArgumentError("page_token is not one this server returned");
  }
  const ScheduleKey& filter = options.filter;
  absl::MutexLock lock(&mu_);
  Statement select(db_.get(),
                   "SELECT record FROM schedules WHERE latest = 1 AND (?1 = '' OR model_id = ?1) "
                   "AND (?2 = 0 OR height = ?2) AND (?3 = 0 OR width = ?3) AND (?4 = 0 OR "
                   "frames = ?4) AND (?5 = 0 OR steps = ?5) ORDER BY model_id, height, width, "
                   "frames, steps, budget_e4 LIMIT ?6 OFFSET ?7");
  VG_RETURN_IF_ERROR(select.Prepared());
  select.Bind(1, filter.model_id()).Bind(2, filter.height()).Bind(3, filter.width());
  select.Bind(4, filter.frames()).Bind(5, filter.steps());
  select.Bind(6, options.page_size + 1).Bind(7, offset);
  ListResult result;
  while (true) {
    VG_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    if (static_cast<int>(result.schedules.size()) == options.page_size) {
      result.next_page_token = absl::StrCat(offset + options.page_size);
      break;
    }
    VG_ASSIGN_OR_RETURN(result.schedules.emplace_back(), ParseVerified(select.Blob(0)));
  }
  return result;
}

absl::StatusOr<std::optional<Schedule>> ScheduleRegistry::BestFor(const ScheduleKey& key,
                                                                  float budget) const {
  Statement select(db_.get(),
                   "SELECT record FROM schedules WHERE model_id = ?1 AND steps = ?2 AND latest = "
                   "1 AND height = ?3 AND width = ?4 AND frames = ?5 AND budget_e4 <= ?6 ORDER "
                   "BY budget_e4 DESC, searched DESC LIMIT 1");
  VG_RETURN_IF_ERROR(select.Prepared());
  select.Bind(1, key.model_id()).Bind(2, key.steps()).Bind(3, key.height());
  select.Bind(4, key.width()).Bind(5, key.frames()).Bind(6, BudgetKey(budget));
  VG_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) return std::optional<Schedule>();
  VG_ASSIGN_OR_RETURN(Schedule schedule, ParseVerified(select.Blob(0)));
  return std::optional<Schedule>(std::move(schedule));
}

absl::StatusOr<ScheduleRegistry::LookupResult> ScheduleRegistry::Lookup(const ScheduleKey& key,
                                                                        float budget) const {
  VG_RETURN_IF_ERROR(ValidateKey(key));
  VG_RETURN_IF_ERROR(ValidateBudget(budget));
  LookupResult result;
  if (budget < 1.0f) {
    absl::MutexLock lock(&mu_);
    VG_ASSIGN_OR_RETURN(std::optional<Schedule> exact, BestFor(key, budget));
    if (exact.has_value()) {
      result.schedule = *std::move(exact);
      result.match = videogen::v1::SCHEDULE_MATCH_EXACT_KEY;
      return result;
    }
    // Nearest other key of the model and step count with a schedule within the budget.
    Statement keys(db_.get(),
                   "SELECT DISTINCT height, width, frames FROM schedules WHERE model_id = ?1 AND "
                   "steps = ?2 AND latest = 1 AND budget_e4 <= ?3 ORDER BY height, width, frames");
    VG_RETURN_IF_ERROR(keys.Prepared());
    keys.Bind(1, key.model_id()).Bind(2, key.steps()).Bind(3, BudgetKey(budget));
    std::optional<ScheduleKey> nearest;
    double best_distance = std::numeric_limits<double>::infinity();
    while (true) {
      VG_ASSIGN_OR_RETURN(const bool row, keys.Step());
      if (!row) break;
      const double distance = KeyDistance(key, static_cast<int>(keys.Int(0)),
                                          static_cast<int>(keys.Int(1)),
                                          static_cast<int>(keys.Int(2)));
      if (distance < best_distance) {
        best_distance = distance;
        nearest = key;
        nearest->set_height(static_cast<int>(keys.Int(0)));
        nearest->set_width(static_cast<int>(keys.Int(1)));
        nearest->set_frames(static_cast<int>(keys.Int(2)));
      }
    }
    if (nearest.has_value()) {
      VG_ASSIGN_OR_RETURN(std::optional<Schedule> found, BestFor(*nearest, budget));
      if (found.has_value()) {
        result.schedule = *std::move(found);
        result.match = videogen::v1::SCHEDULE_MATCH_NEAREST_KEY;
        return result;
      }
    }
  }
  VG_ASSIGN_OR_RETURN(result.schedule, Fallback(key, budget));
  result.match = videogen::v1::SCHEDULE_MATCH_FALLBACK;
  return result;
}

absl::StatusOr<Schedule> ScheduleRegistry::Fallback(const ScheduleKey& key, float budget) {
  VG_RETURN_IF_ERROR(ValidateKey(key));
  VG_RETURN_IF_ERROR(ValidateBudget(budget));
  // Dense first and last steps (none for a 1-step job), the grid levels around the needed mean
  // between them.
  const int dense_ends = key.steps() >= 2 ? 1 : 0;
  absl::StatusOr<engine::astraea::BudgetSchedule> fallback =
      budget >= 1.0f ? engine::astraea::BudgetSchedule::Dense(key.steps())
                     : engine::astraea::BudgetSchedule::WithMeanBudget(key.steps(), budget,
                                                                       dense_ends, dense_ends);
  if (!fallback.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("budget = ", budget, " cannot be met with ",
                                                   key.steps(), " steps: ",
                                                   fallback.status().message()));
  }
  Schedule schedule;
  *schedule.mutable_key() = key;
  schedule.set_budget(static_cast<float>(fallback->MeanBudget()));
  for (int t = 0; t < fallback->steps(); ++t) {
    schedule.add_thetas(static_cast<float>(fallback->theta(t)));
  }
  schedule.set_searched(false);
  schedule.set_predicted_speedup(PredictedSpeedup(*fallback));
  return schedule;
}

absl::StatusOr<std::string> ScheduleRegistry::ExportJson() const {
  videogen::v1::ListSchedulesResponse all;
  ListOptions options;
  options.page_size = 1000;
  do {
    VG_ASSIGN_OR_RETURN(ListResult page, List(options));
    for (Schedule& schedule : page.schedules) *all.add_schedules() = std::move(schedule);
    options.page_token = page.next_page_token;
  } while (!options.page_token.empty());
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(all, &json, print).ok()) {
    return absl::InternalError("cannot print the schedules as JSON");
  }
  return json;
}

absl::StatusOr<int> ScheduleRegistry::ImportJson(const std::string& json) {
  videogen::v1::ListSchedulesResponse all;
  if (const auto status = google::protobuf::util::JsonStringToMessage(json, &all); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule import: ", std::string(status.message())));
  }
  absl::MutexLock lock(&mu_);
  VG_RETURN_IF_ERROR(sqlite::Transaction(db_.get(), [&]() -> absl::Status {
    for (int i = 0; i < all.schedules_size(); ++i) {
      absl::StatusOr<Schedule> stored = PutLocked(all.schedules(i));
      if (!stored.ok()) {
        return absl::Status(stored.status().code(),
                            absl::StrCat("schedules[", i, "]: ", stored.status().message()));
      }
    }
    return absl::OkStatus();
  }));
  return all.schedules_size();
}

}  // namespace videogen::server
