// The evolutionary search of ASTRAEA (seed 004_6edddbe79d1abecb.txt §3.3, Algorithm 2, Fig. 4):
// finds the per-step token budgets θ_1..θ_T with the least quality loss whose mean is within a
// tolerance of a target budget B.
//
// A candidate is one grid level per step (θ = level / 10). Each generation makes
// `population_size` new candidates, none repeated within the generation and none evaluated
// before: a parent pair drawn from the current parents, uniform or block crossover (picked at
// random), per-step mutation to a random level with a probability decaying linearly from P0 in
// the first generation to P_final in the last, then repair of the mean into
// [(1 − tolerance)·B, (1 + tolerance)·B] by random one-level decreases or increases. The new
// candidates are evaluated together (one batch call of the fitness function, lower is better)
// and the `parents` best of the old parents and the new candidates become the next parents
// (elitist top-k, as the seed's text describes). The initial population is the given seed
// candidates (repaired) plus random repaired candidates.
//
// Deterministic for a given seed, including across SaveState()/Restore(): a search restored from
// the state saved after generation g continues exactly as the uninterrupted one.
//
// Not thread-safe; one search per object.
#ifndef VIDEOGEN_SEARCH_WORKER_EVOLUTION_H_
#define VIDEOGEN_SEARCH_WORKER_EVOLUTION_H_

#include <cstdint>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace videogen::search_worker {

// One grid level (θ·10, 0..10) per denoising step.
using Levels = std::vector<int>;

struct EvolutionOptions {
  int population_size = 50;      // W, in [2, 1000].
  int generations = 30;          // G, in [1, 1000].
  int parents = 10;              // Top-k kept per generation, in [2, population_size].
  double mutation_p0 = 0.1;      // In [0, 1].
  double mutation_p_final = 0.01;
  double repair_tolerance = 0.1;  // In [0, 0.5].
  uint64_t seed = 0;
};

// INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateEvolutionOptions(const EvolutionOptions& options);

// The operators, exposed for tests. `Rng` is the search's generator.
using Rng = std::mt19937_64;
Levels UniformCrossover(const Levels& a, const Levels& b, Rng& rng);
// The steps of a random contiguous range from one parent, the rest from the other.
Levels BlockCrossover(const Levels& a, const Levels& b, Rng& rng);
// Per-step mutation probability in generation `generation` (0-based) of `generations`.
double MutationProbability(int generation, int generations, double p0, double p_final);
void Mutate(Levels& levels, double probability, Rng& rng);
// Moves the mean level into [(1 − tolerance)·B, (1 + tolerance)·B]·10 (the whole-level sums in
// it; the one nearest B·10·T if none) by random one-level steps.
void Repair(Levels& levels, double budget, double tolerance, Rng& rng);

// Fitness of a batch of candidates, one value each (lower is better), or an error that stops the
// search.
using FitnessFunction =
    std::function<absl::StatusOr<std::vector<double>>(const std::vector<Levels>& candidates)>;

class EvolutionarySearch {
 public:
  struct Scored {
    Levels levels;
    double fitness = 0;
    int generation = 0;  // Generation that produced it (0: the initial population).
  };

  // INVALID_ARGUMENT for bad options, steps < 1, a budget outside (0, 1], or a seed candidate of
  // the wrong length or off the grid.
  static absl::StatusOr<EvolutionarySearch> Create(int steps, double budget,
                                                   const EvolutionOptions& options,
                                                   const std::vector<Levels>& seed_candidates);
  // A search continuing from SaveState()'s text. INVALID_ARGUMENT if it is malformed or was saved
  // by a search of other steps, budget or options.
  static absl::StatusOr<EvolutionarySearch> Restore(int steps, double budget,
                                                    const EvolutionOptions& options,
                                                    const std::string& state);

  // Evaluates the next generation (the initial population first) and updates the parents.
  // FAILED_PRECONDITION once done(); the fitness function's error (nothing changes then).
  absl::Status RunGeneration(const FitnessFunction& fitness);

  // True once `generations` generations after the initial population have run.
  bool done() const { return next_generation_ > options_.generations; }
  // Generations evaluated so far, the initial population included.
  int generations_run() const { return next_generation_; }
  // The best candidate so far. Only after the first RunGeneration().
  const Scored& best() const { return parents_.front(); }
  const std::vector<Scored>& parents() const { return parents_; }
  // Best fitness after each generation run.
  const std::vector<double>& best_by_generation() const { return best_by_generation_; }
  int64_t evaluations() const { return static_cast<int64_t>(evaluated_.size()); }

  // The whole state (generator, parents, evaluated candidates, history) as text.
  std::string SaveState() const;

 private:
  EvolutionarySearch(int steps, double budget, const EvolutionOptions& options);
  std::vector<Levels> InitialPopulation();
  std::vector<Levels> Offspring();
  bool Known(const Levels& levels) const;

  int steps_;
  double budget_;
  EvolutionOptions options_;
  Rng rng_;
  std::vector<Levels> seed_candidates_;
  int next_generation_ = 0;
  std::vector<Scored> parents_;  // Best first.
  std::vector<std::pair<Levels, double>> evaluated_;  // Every candidate evaluated, in order.
  std::set<Levels> known_;                            // The candidates of evaluated_.
  std::vector<double> best_by_generation_;
};

}  // namespace videogen::search_worker

#endif  // VIDEOGEN_SEARCH_WORKER_EVOLUTION_H_
