#include "search_worker/schedule_search.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/common/version.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "search_worker/evolution.h"
#include "search_worker/latent_fitness.h"

namespace videogen::search_worker {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::videogen::v1::SearchJobSpec;
using ::videogen::v1::SearchResult;
using Json = nlohmann::json;

EvolutionOptions ToOptions(const videogen::v1::EvolutionParams& p) {
  EvolutionOptions options;
  options.population_size = p.population_size();
  options.generations = p.generations();
  options.parents = p.parents();
  options.mutation_p0 = p.mutation_p0();
  options.mutation_p_final = p.mutation_p_final();
  options.repair_tolerance = p.repair_tolerance();
  options.seed = p.seed();
  return options;
}

engine::wan::GenerateRequest BaseRequest(const videogen::v1::ScheduleKey& key, int height,
                                         int width, int frames) {
  engine::wan::GenerateRequest request;
  request.height = height;
  request.width = width;
  request.frames = frames;
  request.steps = key.steps();
  return request;
}

Levels ToLevels(const videogen::v1::Schedule& schedule) {
  Levels levels;
  for (const float theta : schedule.thetas()) {
    levels.push_back(static_cast<int>(std::lround(theta * engine::astraea::kDenseLevel)));
  }
  return levels;
}

// The checkpoint: finished budgets' results, and the running budget's search state.
struct Checkpoint {
  std::vector<SearchResult> results;
  std::string evolution;  // Empty: the next budget has not started.
};

absl::Status WriteCheckpoint(const std::string& path, const std::string& search_id,
                             const Checkpoint& checkpoint) {
  Json results = Json::array();
  for (const SearchResult& result : checkpoint.results) {
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(result, &json).ok()) {
      return absl::InternalError("cannot serialise a search result");
    }
    results.push_back(json);
  }
  const Json state{{"search_id", search_id}, {"results", results},
                   {"evolution", checkpoint.evolution}};
  const std::string temp = path + ".tmp";
  {
    std::ofstream file(temp, std::ios::trunc);
    file << state.dump();
    if (!file.flush()) return absl::InternalError(absl::StrCat("cannot write checkpoint ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename checkpoint ", temp, " to ", path));
  }
  return absl::OkStatus();
}

// The checkpoint at `path`, or an empty one if there is none.
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path, const std::string& search_id) {
  std::ifstream file(path);
  if (!file) return Checkpoint();
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<Json> parsed = ParseStrictJson(text.str());
  Checkpoint checkpoint;
  try {
    if (!parsed.ok() || parsed->at("search_id") != search_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", path, " is not one of search ", search_id));
    }
    for (const Json& json : parsed->at("results")) {
      SearchResult& result = checkpoint.results.emplace_back();
      if (!google::protobuf::util::JsonStringToMessage(json.get<std::string>(), &result).ok()) {
        return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": bad result"));
      }
    }
    checkpoint.evolution = parsed->at("evolution").get<std::string>();
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": ", e.what()));
  }
  return checkpoint;
}

}  // namespace

const std::vector<std::string>& DefaultCalibrationPrompts() {
  static const auto* prompts = new std::vector<std::string>{
      "A red fox trotting through fresh snow in a quiet pine forest at dawn, soft golden light.",
      "A busy city street at night in the rain, neon signs reflecting on wet asphalt, cars "
      "passing.",
      "A chef in a bright kitchen tossing vegetables in a pan, steam rising, close-up shot.",
      "An animated paper boat sailing across a colorful watercolor ocean under a smiling sun."};
  return *prompts;
}

absl::StatusOr<SearchJobSpec> NormalizeSearchSpec(const SearchJobSpec& input,
                                                  uint64_t random_seed) {
  SearchJobSpec spec = input;
  const auto& key = spec.key();
  if (key.model_id().empty()) return absl::InvalidArgumentError("key.model_id is required");
  if (key.height() <= 0 || key.height() % 16 != 0 || key.width() <= 0 || key.width() % 16 != 0) {
    return absl::InvalidArgumentError("key.height and key.width must be positive multiples of 16");
  }
  if (key.frames() <= 0 || key.frames() % 4 != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key.frames = ", key.frames(), " is not of the form 4k + 1"));
  }
  if (key.steps() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("key.steps = ", key.steps(), " is not >= 2"));
  }
  if (spec.budgets().empty() || spec.budgets_size() > 16) {
    return absl::InvalidArgumentError("budgets must have 1 to 16 values");
  }
  std::set<float> budgets;
  for (const float budget : spec.budgets()) {
    if (!(budget > 0 && budget < 1) || !budgets.insert(budget).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("budgets: ", budget, " is outside (0, 1) or repeated"));
    }
  }
  auto* evolution = spec.mutable_evolution();
  if (evolution->population_size() == 0) evolution->set_population_size(50);
  if (evolution->generations() == 0) evolution->set_generations(30);
  if (evolution->parents() == 0) evolution->set_parents(10);
  if (!evolution->has_mutation_p0()) evolution->set_mutation_p0(0.1f);
  if (!evolution->has_mutation_p_final()) evolution->set_mutation_p_final(0.01f);
  if (!evolution->has_repair_tolerance()) evolution->set_repair_tolerance(0.1f);
  if (!evolution->has_seed()) evolution->set_seed(random_seed);
  VG_RETURN_IF_ERROR(ValidateEvolutionOptions(ToOptions(*evolution)));
  if (spec.calibration_prompts().empty()) {
    for (const std::string& prompt : DefaultCalibrationPrompts()) {
      spec.add_calibration_prompts(prompt);
    }
  }
  if (spec.calibration_prompts_size() > 16) {
    return absl::InvalidArgumentError("calibration_prompts has more than 16 prompts");
  }
  if (spec.calibration_seeds().empty()) {
    for (int i = 0; i < spec.calibration_prompts_size(); ++i) spec.add_calibration_seeds(i);
  }
  if (spec.calibration_seeds_size() != spec.calibration_prompts_size()) {
    return absl::InvalidArgumentError("calibration_seeds needs one seed per calibration prompt");
  }
  if (spec.has_proxy()) {
    auto* proxy = spec.mutable_proxy();
    if (proxy->height() == 0) proxy->set_height(key.height());
    if (proxy->width() == 0) proxy->set_width(key.width());
    if (proxy->frames() == 0) proxy->set_frames(key.frames());
    if (proxy->height() % 16 != 0 || proxy->height() > key.height() || proxy->width() % 16 != 0 ||
        proxy->width() > key.width() || proxy->frames() % 4 != 1 ||
        proxy->frames() > key.frames()) {
      return absl::InvalidArgumentError(
          "proxy must be at most the key's size and length, with height and width multiples of "
          "16 and frames of the form 4k + 1");
    }
  }
  return spec;
}

absl::StatusOr<SearchOutcome> RunScheduleSearch(const engine::wan::Pipeline& pipeline,
                                                server::ScheduleRegistry& registry,
                                                const SearchJobSpec& spec,
                                                const SearchOptions& options) {
  const auto& key = spec.key();
  LatentFitness::Calibration calibration;
  calibration.prompts.assign(spec.calibration_prompts().begin(), spec.calibration_prompts().end());
  calibration.seeds.assign(spec.calibration_seeds().begin(), spec.calibration_seeds().end());
  const bool proxied = spec.has_proxy() &&
                       (spec.proxy().height() != key.height() ||
                        spec.proxy().width() != key.width() ||
                        spec.proxy().frames() != key.frames());
  VG_ASSIGN_OR_RETURN(LatentFitness full,
                      LatentFitness::Create(&pipeline,
                                            BaseRequest(key, key.height(), key.width(),
                                                        key.frames()),
                                            calibration, options.fitness));
  std::optional<LatentFitness> proxy;
  if (proxied) {
    VG_ASSIGN_OR_RETURN(proxy, LatentFitness::Create(
                                   &pipeline,
                                   BaseRequest(key, spec.proxy().height(), spec.proxy().width(),
                                               spec.proxy().frames()),
                                   calibration, options.fitness));
  }
  LatentFitness& searched = proxied ? *proxy : full;

  Checkpoint checkpoint;
  if (!options.checkpoint_path.empty()) {
    VG_ASSIGN_OR_RETURN(checkpoint, ReadCheckpoint(options.checkpoint_path, options.search_id));
  }
  const EvolutionOptions evolution = ToOptions(spec.evolution());
  const int total_generations = evolution.generations + 1;
  const int64_t evaluations_total =
      static_cast<int64_t>(spec.budgets_size()) * total_generations * evolution.population_size;
  const absl::Time start = absl::Now();
  int64_t evaluations_before = 0;  // Of the budgets finished in this run.

  for (int b = static_cast<int>(checkpoint.results.size()); b < spec.budgets_size(); ++b) {
    const float budget = spec.budgets(b);
    // The registry's fallback for the budget; none when its dense first and last steps alone
    // exceed the budget (the search itself is not bound by them).
    const absl::StatusOr<videogen::v1::Schedule> fallback_schedule =
        server::ScheduleRegistry::Fallback(key, budget);
    std::optional<Levels> fallback;
    if (fallback_schedule.ok()) fallback = ToLevels(*fallback_schedule);
    auto fitness = [&](const std::vector<Levels>& batch) {
      return searched.Evaluate(batch, options.cancelled);
    };
    // The fallback and, for a budget on the grid, the uniform schedule start the population, so
    // the search never publishes anything worse than either.
    std::vector<Levels> seeds;
    if (fallback.has_value()) seeds.push_back(*fallback);
    const double uniform_level = budget * engine::astraea::kDenseLevel;
    if (std::fabs(uniform_level - std::lround(uniform_level)) < 1e-4) {
      seeds.push_back(Levels(key.steps(), static_cast<int>(std::lround(uniform_level))));
    }
    absl::StatusOr<EvolutionarySearch> search =
        checkpoint.evolution.empty()
            ? EvolutionarySearch::Create(key.steps(), budget, evolution, seeds)
            : EvolutionarySearch::Restore(key.steps(), budget, evolution, checkpoint.evolution);
    VG_RETURN_IF_ERROR(search.status());
    while (!search->done()) {
      VG_RETURN_IF_ERROR(search->RunGeneration(fitness));
      checkpoint.evolution = search->SaveState();
      if (!options.checkpoint_path.empty()) {
        VG_RETURN_IF_ERROR(
            WriteCheckpoint(options.checkpoint_path, options.search_id, checkpoint));
      }
      if (options.on_progress) {
        videogen::v1::SearchProgress progress;
        progress.set_budget(budget);
        progress.set_budget_index(b);
        progress.set_generation(search->generations_run() - 1);
        progress.set_total_generations(total_generations);
        progress.set_best_fitness_mse(search->best().fitness);
        const int64_t done = evaluations_before + search->evaluations();
        progress.set_evaluations_done(
            static_cast<int64_t>(b) * total_generations * evolution.population_size +
            search->evaluations());
        progress.set_evaluations_total(evaluations_total);
        const double per_evaluation =
            done > 0 ? absl::ToDoubleSeconds(absl::Now() - start) / done : 0;
        *progress.mutable_eta() = TimeUtil::NanosecondsToDuration(static_cast<int64_t>(
            1e9 * per_evaluation * (evaluations_total - progress.evaluations_done())));
        options.on_progress(progress);
      }
    }
    evaluations_before += search->evaluations();

    // The recorded fitness is at the full key (a proxy's best is evaluated again there); the
    // fallback's beside it for comparison.
    const EvolutionarySearch::Scored& best = search->best();
    std::vector<Levels> again;
    if (proxied) again.push_back(best.levels);
    if (fallback.has_value()) again.push_back(*fallback);
    std::vector<double> again_mse;
    if (!again.empty()) {
      VG_ASSIGN_OR_RETURN(again_mse, full.Evaluate(again, options.cancelled));
    }
    const std::vector<double> full_mse = {proxied ? again_mse.front() : best.fitness};
    const double fallback_mse = fallback.has_value() ? again_mse.back() : 0;
    videogen::v1::Schedule schedule;
    *schedule.mutable_key() = key;
    schedule.set_budget(budget);
    for (const int level : best.levels) {
      schedule.add_thetas(static_cast<float>(level) / engine::astraea::kDenseLevel);
    }
    schedule.set_searched(true);
    auto* provenance = schedule.mutable_provenance();
    provenance->set_search_id(options.search_id);
    provenance->set_generation(best.generation);
    provenance->set_fitness_mse(full_mse[0]);
    VG_ASSIGN_OR_RETURN(const double psnr, full.Psnr(best.levels, options.cancelled));
    provenance->set_psnr_db(psnr);
    *provenance->mutable_calibration_prompts() = spec.calibration_prompts();
    *provenance->mutable_calibration_seeds() = spec.calibration_seeds();
    provenance->set_engine_version(kVersion);
    *provenance->mutable_create_time() = TimeUtil::GetCurrentTime();
    VG_ASSIGN_OR_RETURN(const videogen::v1::Schedule stored, registry.Put(schedule));

    SearchResult& result = checkpoint.results.emplace_back();
    result.set_budget(budget);
    result.set_schedule_id(stored.id());
    result.set_schedule_version(stored.version());
    result.set_fitness_mse(full_mse[0]);
    result.set_fallback_fitness_mse(fallback_mse);
    result.set_psnr_db(psnr);
    result.set_generation(best.generation);
    checkpoint.evolution.clear();
    if (!options.checkpoint_path.empty()) {
      VG_RETURN_IF_ERROR(WriteCheckpoint(options.checkpoint_path, options.search_id, checkpoint));
    }
  }
  SearchOutcome outcome;
  outcome.results = std::move(checkpoint.results);
  outcome.steps_computed = full.steps_computed() + (proxy ? proxy->steps_computed() : 0);
  outcome.steps_reused = full.steps_reused() + (proxy ? proxy->steps_reused() : 0);
  return outcome;
}

}  // namespace videogen::search_worker
