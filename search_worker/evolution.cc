#include "search_worker/evolution.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/astraea/schedule.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"

namespace videogen::search_worker {
namespace {

using ::videogen::engine::astraea::kDenseLevel;
using Json = nlohmann::json;

int RandomInt(Rng& rng, int low, int high) {  // Inclusive.
  return std::uniform_int_distribution<int>(low, high)(rng);
}

absl::Status CheckCandidate(const Levels& levels, int steps) {
  if (static_cast<int>(levels.size()) != steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("a seed candidate has ", levels.size(), " steps, not ", steps));
  }
  for (const int level : levels) {
    if (level < 0 || level > kDenseLevel) {
      return absl::InvalidArgumentError(absl::StrCat("a seed candidate has level ", level));
    }
  }
  return absl::OkStatus();
}

Json OptionsJson(int steps, double budget, const EvolutionOptions& o) {
  return Json{{"steps", steps},
              {"budget", budget},
              {"population_size", o.population_size},
              {"generations", o.generations},
              {"parents", o.parents},
              {"mutation_p0", o.mutation_p0},
              {"mutation_p_final", o.mutation_p_final},
              {"repair_tolerance", o.repair_tolerance},
              {"seed", o.seed}};
}

}  // namespace

absl::Status ValidateEvolutionOptions(const EvolutionOptions& o) {
  if (o.population_size < 2 || o.population_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("population_size = ", o.population_size, " is outside [2, 1000]"));
  }
  if (o.generations < 1 || o.generations > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("generations = ", o.generations, " is outside [1, 1000]"));
  }
  if (o.parents < 2 || o.parents > o.population_size) {
    return absl::InvalidArgumentError(absl::StrCat("parents = ", o.parents,
                                                   " is outside [2, population_size]"));
  }
  for (const auto& [name, p] : {std::pair<const char*, double>{"mutation_p0", o.mutation_p0},
                                {"mutation_p_final", o.mutation_p_final}}) {
    if (!(p >= 0 && p <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(name, " = ", p, " is outside [0, 1]"));
    }
  }
  if (!(o.repair_tolerance >= 0 && o.repair_tolerance <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("repair_tolerance = ", o.repair_tolerance, " is outside [0, 0.5]"));
  }
  return absl::OkStatus();
}

Levels UniformCrossover(const Levels& a, const Levels& b, Rng& rng) {
  Levels child(a.size());
  std::bernoulli_distribution coin(0.5);
  for (size_t t = 0; t < a.size(); ++t) child[t] = coin(rng) ? a[t] : b[t];
  return child;
}

Levels BlockCrossover(const Levels& a, const Levels& b, Rng& rng) {
  const int steps = static_cast<int>(a.size());
  int first = RandomInt(rng, 0, steps - 1), last = RandomInt(rng, 0, steps - 1);
  if (first > last) std::swap(first, last);
  Levels child = b;
  std::copy(a.begin() + first, a.begin() + last + 1, child.begin() + first);
  return child;
}

double MutationProbability(int generation, int generations, double p0, double p_final) {
  if (generations <= 1) return p0;
  const double progress = std::clamp(static_cast<double>(generation) / (generations - 1), 0.0, 1.0);
  return p0 - progress * (p0 - p_final);
}

void Mutate(Levels& levels, double probability, Rng& rng) {
  std::bernoulli_distribution mutate(probability);
  for (int& level : levels) {
    if (mutate(rng)) level = RandomInt(rng, 0, kDenseLevel);
  }
}

void Repair(Levels& levels, double budget, double tolerance, Rng& rng) {
  const int steps = static_cast<int>(levels.size());
  const double target = budget * kDenseLevel * steps;
  int low = static_cast<int>(std::ceil(target * (1 - tolerance) - 1e-9));
  int high = static_cast<int>(std::floor(target * (1 + tolerance) + 1e-9));
  low = std::max(low, 1);  // A schedule computes something.
  high = std::min(high, kDenseLevel * steps);
  if (low > high) low = high = std::clamp(static_cast<int>(std::lround(target)), 1,
                                          kDenseLevel * steps);
  int sum = std::accumulate(levels.begin(), levels.end(), 0);
  while (sum > high) {
    int& level = levels[RandomInt(rng, 0, steps - 1)];
    if (level > 0) {
      --level;
      --sum;
    }
  }
  while (sum < low) {
    int& level = levels[RandomInt(rng, 0, steps - 1)];
    if (level < kDenseLevel) {
      ++level;
      ++sum;
    }
  }
}

EvolutionarySearch::EvolutionarySearch(int steps, double budget, const EvolutionOptions& options)
    : steps_(steps), budget_(budget), options_(options), rng_(options.seed) {}

absl::StatusOr<EvolutionarySearch> EvolutionarySearch::Create(
    int steps, double budget, const EvolutionOptions& options,
    const std::vector<Levels>& seed_candidates) {
  VG_RETURN_IF_ERROR(ValidateEvolutionOptions(options));
  if (steps < 1) return absl::InvalidArgumentError(absl::StrCat("steps = ", steps, " < 1"));
  if (!(budget > 0 && budget <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("budget = ", budget, " is outside (0, 1]"));
  }
  for (const Levels& candidate : seed_candidates) {
    VG_RETURN_IF_ERROR(CheckCandidate(candidate, steps));
  }
  EvolutionarySearch search(steps, budget, options);
  search.seed_candidates_ = seed_candidates;
  return search;
}

bool EvolutionarySearch::Known(const Levels& levels) const { return known_.count(levels) > 0; }

std::vector<Levels> EvolutionarySearch::InitialPopulation() {
  std::vector<Levels> population;
  std::set<Levels> chosen;
  auto add = [&](Levels levels) {
    Repair(levels, budget_, options_.repair_tolerance, rng_);
    if (chosen.insert(levels).second) population.push_back(std::move(levels));
  };
  for (const Levels& seed : seed_candidates_) {
    if (static_cast<int>(population.size()) < options_.population_size) add(seed);
  }
  for (int attempt = 0; static_cast<int>(population.size()) < options_.population_size &&
                        attempt < 100 * options_.population_size;
       ++attempt) {
    Levels random(steps_);
    for (int& level : random) level = RandomInt(rng_, 0, kDenseLevel);
    add(std::move(random));
  }
  return population;
}

std::vector<Levels> EvolutionarySearch::Offspring() {
  const double mutation = MutationProbability(next_generation_ - 1, options_.generations,
                                              options_.mutation_p0, options_.mutation_p_final);
  std::vector<Levels> children;
  std::set<Levels> chosen;
  const int pool = static_cast<int>(parents_.size());
  // A bounded number of tries: a tiny search space can run out of unseen candidates.
  for (int attempt = 0; static_cast<int>(children.size()) < options_.population_size &&
                        attempt < 100 * options_.population_size;
       ++attempt) {
    const int a = RandomInt(rng_, 0, pool - 1);
    int b = RandomInt(rng_, 0, pool - 2);
    if (b >= a) ++b;
    std::bernoulli_distribution uniform(0.5);
    Levels child = uniform(rng_) ? UniformCrossover(parents_[a].levels, parents_[b].levels, rng_)
                                 : BlockCrossover(parents_[a].levels, parents_[b].levels, rng_);
    Mutate(child, mutation, rng_);
    Repair(child, budget_, options_.repair_tolerance, rng_);
    if (!Known(child) && chosen.insert(child).second) children.push_back(std::move(child));
  }
  return children;
}

absl::Status EvolutionarySearch::RunGeneration(const FitnessFunction& fitness) {
  if (done()) return absl::FailedPreconditionError("the search has run all its generations");
  const Rng saved = rng_;
  std::vector<Levels> candidates =
      next_generation_ == 0 ? InitialPopulation() : Offspring();
  absl::StatusOr<std::vector<double>> scores =
      candidates.empty() ? std::vector<double>() : fitness(candidates);
  if (!scores.ok() || scores->size() != candidates.size()) {
    rng_ = saved;  // Nothing changes: the generation can be run again.
    if (!scores.ok()) return scores.status();
    return absl::InternalError(absl::StrCat("the fitness function returned ", scores->size(),
                                            " values for ", candidates.size(), " candidates"));
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    evaluated_.emplace_back(candidates[i], (*scores)[i]);
    known_.insert(candidates[i]);
    parents_.push_back({std::move(candidates[i]), (*scores)[i], next_generation_});
  }
  // Stable: among equal fitness the earlier candidate stays ahead.
  std::stable_sort(parents_.begin(), parents_.end(),
                   [](const Scored& a, const Scored& b) { return a.fitness < b.fitness; });
  if (static_cast<int>(parents_.size()) > options_.parents) parents_.resize(options_.parents);
  best_by_generation_.push_back(parents_.empty() ? 0 : parents_.front().fitness);
  ++next_generation_;
  return absl::OkStatus();
}

std::string EvolutionarySearch::SaveState() const {
  std::ostringstream generator;
  generator << rng_;
  Json state = OptionsJson(steps_, budget_, options_);
  state["rng"] = generator.str();
  state["next_generation"] = next_generation_;
  state["seed_candidates"] = seed_candidates_;
  Json parents = Json::array();
  for (const Scored& p : parents_) {
    parents.push_back({{"levels", p.levels}, {"fitness", p.fitness}, {"generation", p.generation}});
  }
  state["parent_candidates"] = std::move(parents);
  Json evaluated = Json::array();
  for (const auto& [levels, fitness] : evaluated_) evaluated.push_back({levels, fitness});
  state["evaluated"] = std::move(evaluated);
  state["best_by_generation"] = best_by_generation_;
  return state.dump();
}

absl::StatusOr<EvolutionarySearch> EvolutionarySearch::Restore(int steps, double budget,
                                                               const EvolutionOptions& options,
                                                               const std::string& text) {
  VG_ASSIGN_OR_RETURN(EvolutionarySearch search, Create(steps, budget, options, {}));
  absl::StatusOr<Json> parsed = ParseStrictJson(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("search state: ", parsed.status().message()));
  }
  const Json& state = *parsed;
  try {
    const Json expected = OptionsJson(steps, budget, options);
    for (const auto& [key, value] : expected.items()) {
      if (state.at(key) != value) {
        return absl::InvalidArgumentError(
            absl::StrCat("search state: saved by a search with another ", key));
      }
    }
    std::istringstream generator(state.at("rng").get<std::string>());
    generator >> search.rng_;
    if (!generator) return absl::InvalidArgumentError("search state: bad generator state");
    search.next_generation_ = state.at("next_generation").get<int>();
    search.seed_candidates_ = state.at("seed_candidates").get<std::vector<Levels>>();
    for (const Json& p : state.at("parent_candidates")) {
      search.parents_.push_back({p.at("levels").get<Levels>(), p.at("fitness").get<double>(),
                                 p.at("generation").get<int>()});
    }
    for (const Json& e : state.at("evaluated")) {
      search.evaluated_.emplace_back(e.at(0).get<Levels>(), e.at(1).get<double>());
      search.known_.insert(search.evaluated_.back().first);
    }
    search.best_by_generation_ = state.at("best_by_generation").get<std::vector<double>>();
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("search state: ", e.what()));
  }
  for (const Scored& p : search.parents_) VG_RETURN_IF_ERROR(CheckCandidate(p.levels, steps));
  return search;
}

}  // namespace videogen::search_worker
