// The schedule registry: versioned token-budget schedules (videogen.v1.Schedule) in one SQLite
// database (WAL), shared by the server, which looks schedules up for jobs, and the search worker,
// which publishes them. Readers never wait for a writer; writers in several processes serialise
// through SQLite's write lock.
//
// Each (key, budget) has one schedule id; storing a schedule for a (key, budget) that has one
// adds a new version of that id. Reads return the latest version unless asked for another. Every
// stored version carries a SHA-256 checksum over its key, budget, thetas, searched flag and
// provenance, verified on every read (DATA_LOSS instead of a corrupted schedule).
//
// Lookup(key, b), what a job with that key and budget runs with (proto/schedule.proto,
// ScheduleMatch); b = 1 is always the dense schedule (FALLBACK), whatever is stored:
//   1. EXACT_KEY: the stored schedule of the key with the largest budget <= b (a searched one
//      before a hand-written one of the same budget);
//   2. NEAREST_KEY: else the same for the nearest key of the same model and step count (the one
//      closest in height, width and frames, relative differences summed);
//   3. FALLBACK: else θ = 1 at the first and last steps and the grid levels around the needed mean
//      between them (astraea::BudgetSchedule::WithMeanBudget); b = 1 is the dense schedule.
// Predicted speedups come from the analytic step-cost model with kFixedStepFraction.
//
// Thread-safe.
#ifndef VIDEOGEN_SERVER_SCHEDULE_REGISTRY_H_
#define VIDEOGEN_SERVER_SCHEDULE_REGISTRY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/astraea/schedule.h"
#include "proto/schedule.pb.h"
#include "server/sqlite.h"

namespace videogen::server {

class ScheduleRegistry {
 public:
  // Fraction of a dense step that does not shrink with θ (norms, modulation, K/V projections),
  // fitted to the H100 step-time table of Wan2.1-1.3B at 480p
  // (bench/results/2026-11-23_h100_cost_model_wan13b_480p_33f.json: the levels 1 to 10 lie on
  // a line whose intercept is 0.12 of the dense step).
  static constexpr double kFixedStepFraction = 0.12;

  struct LookupResult {
    videogen::v1::Schedule schedule;  // A fallback has an empty id and version 0.
    videogen::v1::ScheduleMatch match = videogen::v1::SCHEDULE_MATCH_UNSPECIFIED;
  };
  struct ListOptions {
    int page_size = 100;                // 1 to 1000.
    std::string page_token;             // From the previous page; empty for the first.
    videogen::v1::ScheduleKey filter;   // Set (non-zero, non-empty) fields must match.
  };
  struct ListResult {
    std::vector<videogen::v1::Schedule> schedules;  // Latest versions, by key then budget.
    std::string next_page_token;
  };

  // Opens (creating) the registry at `path`. sqlite::Open's errors.
  static absl::StatusOr<std::unique_ptr<ScheduleRegistry>> Open(const std::string& path);

  // Stores `schedule` (key, budget, thetas and searched required; provenance and
  // measured_speedup optional; id, version, predicted_speedup and checksum are filled in) and
  // returns it as stored. INVALID_ARGUMENT naming the field for a bad key, a budget outside
  // (0, 1], thetas of the wrong count or off the grid, a mean θ outside [0.9·budget, 1.1·budget]
  // or a negative fitness.
  absl::StatusOr<videogen::v1::Schedule> Put(const videogen::v1::Schedule& schedule);
  // Version `version` of `id` (0: the latest). NOT_FOUND; DATA_LOSS on a checksum mismatch.
  absl::StatusOr<videogen::v1::Schedule> Get(const std::string& id, int64_t version = 0) const;
  // Deletes every version of `id`. NOT_FOUND if there is none.
  absl::Status Delete(const std::string& id);
  // INVALID_ARGUMENT for a bad page size or token; DATA_LOSS as Get.
  absl::StatusOr<ListResult> List(const ListOptions& options) const;
  // As described above. INVALID_ARGUMENT for a bad key, a budget outside (0, 1], or a budget the
  // fallback cannot meet (its dense first and last steps alone exceed it).
  absl::StatusOr<LookupResult> Lookup(const videogen::v1::ScheduleKey& key, float budget) const;

  // The fallback schedule of step 3 above (empty id, not searched). INVALID_ARGUMENT as Lookup.
  static absl::StatusOr<videogen::v1::Schedule> Fallback(const videogen::v1::ScheduleKey& key,
                                                         float budget);

  // Every schedule's latest version as JSON (a ListSchedulesResponse without a page token), for
  // review and for shipping with a deployment.
  absl::StatusOr<std::string> ExportJson() const;
  // Stores every schedule of ExportJson()'s format (as Put, keeping provenance); returns how
  // many. INVALID_ARGUMENT for malformed JSON or a bad schedule (nothing is stored then).
  absl::StatusOr<int> ImportJson(const std::string& json);

 private:
  explicit ScheduleRegistry(sqlite::Database db) : db_(std::move(db)) {}
  // Best latest schedule of exactly `key` with budget <= `budget`, if any.
  absl::StatusOr<std::optional<videogen::v1::Schedule>> BestFor(
      const videogen::v1::ScheduleKey& key, float budget) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<videogen::v1::Schedule> PutLocked(const videogen::v1::Schedule& schedule)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  const sqlite::Database db_;
};

// The engine's schedule for a registry schedule (its thetas are on the grid).
absl::StatusOr<engine::astraea::BudgetSchedule> ToBudgetSchedule(
    const videogen::v1::Schedule& schedule);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_SCHEDULE_REGISTRY_H_
