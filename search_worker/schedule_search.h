// One schedule search (a videogen.v1.SearchJobSpec) on a loaded pipeline: for each budget, the
// evolutionary search (evolution.h) with the latent-MSE fitness (latent_fitness.h), seeded with
// the registry's fallback schedule for that budget and, for a budget on the θ grid, the uniform
// schedule (so the result is never worse than either); the best schedule is published to the
// schedule registry with its provenance. With a proxy, candidates are evaluated at the proxy's
// smaller size/length and the best one (and the fallback, for comparison) is re-evaluated at the
// full key, whose MSE is what gets recorded.
//
// Checkpoints: with a checkpoint path, the search state is written there (atomically) after every
// generation; a search started with an existing checkpoint continues from it and gives the same
// result as an uninterrupted one.
#ifndef VIDEOGEN_SEARCH_WORKER_SCHEDULE_SEARCH_H_
#define VIDEOGEN_SEARCH_WORKER_SCHEDULE_SEARCH_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/wan/pipeline.h"
#include "proto/search_job.pb.h"
#include "search_worker/latent_fitness.h"
#include "server/schedule_registry.h"

namespace videogen::search_worker {

// The calibration prompts used when a spec gives none: four genres, as the seed paper suggests.
const std::vector<std::string>& DefaultCalibrationPrompts();

// `spec` with every default filled in (evolution parameters, calibration prompts and seeds
// 0, 1, ...; `random_seed` for an unset evolution seed). INVALID_ARGUMENT naming the field for a
// bad key, budget, parameter, prompt/seed count or proxy.
absl::StatusOr<videogen::v1::SearchJobSpec> NormalizeSearchSpec(
    const videogen::v1::SearchJobSpec& spec, uint64_t random_seed);

struct SearchOptions {
  std::string search_id;        // Recorded in the provenance.
  std::string checkpoint_path;  // Empty: no checkpoints.
  // After every generation (and each re-evaluation). Must not block for long.
  std::function<void(const videogen::v1::SearchProgress&)> on_progress;
  // Polled between candidate runs and steps; true stops the search with CANCELLED.
  std::function<bool()> cancelled;
  // How candidates share the steps of common schedule prefixes (latent_fitness.h).
  LatentFitness::Options fitness;
};

struct SearchOutcome {
  std::vector<videogen::v1::SearchResult> results;  // In budget order.
  // Denoising steps run by this call and steps prefix reuse saved (not counting a resumed
  // search's earlier runs).
  int64_t steps_computed = 0;
  int64_t steps_reused = 0;
};

// Runs a normalised spec and publishes one schedule per budget (the results carry the schedules'
// registry ids and versions). Errors: the pipeline's, the registry's, CANCELLED, INTERNAL for an
// unwritable checkpoint, INVALID_ARGUMENT for a checkpoint of another search.
absl::StatusOr<SearchOutcome> RunScheduleSearch(
    const engine::wan::Pipeline& pipeline, server::ScheduleRegistry& registry,
    const videogen::v1::SearchJobSpec& spec, const SearchOptions& options);

}  // namespace videogen::search_worker

#endif  // VIDEOGEN_SEARCH_WORKER_SCHEDULE_SEARCH_H_
