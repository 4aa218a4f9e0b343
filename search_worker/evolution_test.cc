#include "search_worker/evolution.h"

#include <numeric>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::search_worker {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

double MeanTheta(const Levels& levels) {
  return std::accumulate(levels.begin(), levels.end(), 0.0) / (10.0 * levels.size());
}

TEST(OperatorsTest, KeepLevelsOnTheGridAndRepairIntoTheBudgetWindow) {
  Rng rng(7);
  std::uniform_int_distribution<int> level(0, 10);
  for (int trial = 0; trial < 2000; ++trial) {
    const int steps = 1 + trial % 50;
    Levels a(steps), b(steps);
    for (int t = 0; t < steps; ++t) {
      a[t] = level(rng);
      b[t] = level(rng);
    }
    const Levels uniform = UniformCrossover(a, b, rng);
    const Levels block = BlockCrossover(a, b, rng);
    int switches = 0;
    for (int t = 0; t < steps; ++t) {
      EXPECT_TRUE(uniform[t] == a[t] || uniform[t] == b[t]);
      EXPECT_TRUE(block[t] == a[t] || block[t] == b[t]);
      if (t > 0 && (block[t] == a[t]) != (block[t - 1] == a[t - 1]) && a[t] != b[t] &&
          a[t - 1] != b[t - 1]) {
        ++switches;
      }
    }
    EXPECT_LE(switches, 2) << "block crossover takes one contiguous range";
    Levels child = uniform;
    Mutate(child, 0.3, rng);
    const double budget = 0.1 * (1 + trial % 10);
    Repair(child, budget, 0.1, rng);
    for (const int l : child) EXPECT_TRUE(l >= 0 && l <= 10);
    const double mean = MeanTheta(child);
    // Within the window, or as near the budget as whole levels allow.
    EXPECT_LE(std::abs(mean - budget), std::max(0.1 * budget, 0.5 / (10.0 * steps)) + 1e-9)
        << "steps " << steps << " budget " << budget;
  }
}

TEST(OperatorsTest, MutationProbabilityDecaysLinearly) {
  EXPECT_DOUBLE_EQ(MutationProbability(0, 30, 0.1, 0.01), 0.1);
  EXPECT_DOUBLE_EQ(MutationProbability(29, 30, 0.1, 0.01), 0.01);
  EXPECT_NEAR(MutationProbability(10, 21, 0.1, 0.0), 0.05, 1e-12);
  Rng rng(1);
  Levels none(100, 5);
  Mutate(none, 0.0, rng);
  EXPECT_EQ(none, Levels(100, 5));
}

// Fitness with a known optimum: the squared distance to `target`.
FitnessFunction DistanceTo(const Levels& target, int64_t* calls = nullptr) {
  return [target, calls](const std::vector<Levels>& batch) {
    std::vector<double> out;
    for (const Levels& c : batch) {
      double d = 0;
      for (size_t t = 0; t < c.size(); ++t) d += (c[t] - target[t]) * (c[t] - target[t]);
      out.push_back(d);
    }
    if (calls != nullptr) *calls += static_cast<int64_t>(batch.size());
    return absl::StatusOr<std::vector<double>>(out);
  };
}

Levels Target() {  // Mean 0.5 over 20 steps, far from uniform.
  Levels target(20);
  for (int t = 0; t < 20; ++t) target[t] = t < 5 ? 10 : (t < 15 ? 3 : 7);
  return target;
}

TEST(EvolutionarySearchTest, ConvergesAndBeatsRandomSearchAtEqualEvaluations) {
  EvolutionOptions options;
  options.population_size = 20;
  options.generations = 30;
  options.parents = 6;
  options.seed = 11;
  ASSERT_OK_AND_ASSIGN(auto search, EvolutionarySearch::Create(20, 0.5, options, {}));
  int64_t calls = 0;
  while (!search.done()) ASSERT_OK(search.RunGeneration(DistanceTo(Target(), &calls)));
  EXPECT_EQ(calls, search.evaluations());
  const auto& history = search.best_by_generation();
  for (size_t g = 1; g < history.size(); ++g) EXPECT_LE(history[g], history[g - 1]);
  EXPECT_NEAR(MeanTheta(search.best().levels), 0.5, 0.05 + 1e-9);

  // Random search with as many evaluations.
  Rng rng(11);
  std::uniform_int_distribution<int> level(0, 10);
  double random_best = 1e300;
  for (int64_t i = 0; i < calls; ++i) {
    Levels c(20);
    for (int& l : c) l = level(rng);
    Repair(c, 0.5, 0.1, rng);
    random_best = std::min(random_best, (*DistanceTo(Target())({c}))[0]);
  }
  EXPECT_LT(search.best().fitness, random_best / 4) << "EA " << search.best().fitness
                                                   << " vs random " << random_best;
}

TEST(EvolutionarySearchTest, SeedCandidatesAreEvaluatedAndNothingIsEvaluatedTwice) {
  EvolutionOptions options;
  options.population_size = 10;
  options.generations = 5;
  options.parents = 4;
  const Levels uniform(8, 5);
  ASSERT_OK_AND_ASSIGN(auto search, EvolutionarySearch::Create(8, 0.5, options, {uniform}));
  std::set<Levels> seen;
  bool uniform_seen = false;
  const FitnessFunction fitness = [&](const std::vector<Levels>& batch) {
    for (const Levels& c : batch) {
      EXPECT_TRUE(seen.insert(c).second) << "evaluated twice";
      uniform_seen |= c == uniform;
    }
    return DistanceTo(uniform)(batch);
  };
  while (!search.done()) ASSERT_OK(search.RunGeneration(fitness));
  EXPECT_TRUE(uniform_seen);
  EXPECT_EQ(search.best().levels, uniform);
  EXPECT_EQ(search.best().fitness, 0);
  EXPECT_THAT(search.RunGeneration(fitness), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(EvolutionarySearchTest, DeterministicForASeedAndAcrossSaveAndRestore) {
  EvolutionOptions options;
  options.population_size = 12;
  options.generations = 8;
  options.parents = 4;
  options.seed = 3;
  ASSERT_OK_AND_ASSIGN(auto whole, EvolutionarySearch::Create(16, 0.4, options, {}));
  while (!whole.done()) ASSERT_OK(whole.RunGeneration(DistanceTo(Target())));

  ASSERT_OK_AND_ASSIGN(auto first, EvolutionarySearch::Create(16, 0.4, options, {}));
  for (int g = 0; g < 4; ++g) ASSERT_OK(first.RunGeneration(DistanceTo(Target())));
  const std::string state = first.SaveState();
  ASSERT_OK_AND_ASSIGN(auto resumed, EvolutionarySearch::Restore(16, 0.4, options, state));
  EXPECT_EQ(resumed.generations_run(), 4);
  while (!resumed.done()) ASSERT_OK(resumed.RunGeneration(DistanceTo(Target())));
  EXPECT_EQ(resumed.best().levels, whole.best().levels);
  EXPECT_EQ(resumed.best_by_generation(), whole.best_by_generation());
  EXPECT_EQ(resumed.SaveState(), whole.SaveState());

  options.seed = 4;
  ASSERT_OK_AND_ASSIGN(auto other, EvolutionarySearch::Create(16, 0.4, options, {}));
  ASSERT_OK(other.RunGeneration(DistanceTo(Target())));
  EXPECT_NE(other.parents().front().levels, first.parents().front().levels);
  EXPECT_THAT(EvolutionarySearch::Restore(16, 0.4, options, state),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seed")));
  EXPECT_THAT(EvolutionarySearch::Restore(16, 0.4, options, "{"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EvolutionarySearchTest, AFailingFitnessChangesNothing) {
  EvolutionOptions options;
  options.population_size = 6;
  options.generations = 2;
  options.parents = 2;
  ASSERT_OK_AND_ASSIGN(auto search, EvolutionarySearch::Create(6, 0.5, options, {}));
  ASSERT_OK(search.RunGeneration(DistanceTo(Levels(6, 5))));
  const std::string before = search.SaveState();
  const FitnessFunction failing = [](const std::vector<Levels>&) {
    return absl::StatusOr<std::vector<double>>(absl::UnavailableError("device lost"));
  };
  EXPECT_THAT(search.RunGeneration(failing), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(search.SaveState(), before);
}

TEST(EvolutionarySearchTest, RejectsBadOptions) {
  EvolutionOptions options;
  options.parents = 1;
  EXPECT_THAT(EvolutionarySearch::Create(10, 0.5, options, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parents")));
  options = EvolutionOptions();
  options.mutation_p0 = 2;
  EXPECT_THAT(EvolutionarySearch::Create(10, 0.5, options, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mutation_p0")));
  EXPECT_THAT(EvolutionarySearch::Create(10, 1.5, EvolutionOptions(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("budget")));
  EXPECT_THAT(EvolutionarySearch::Create(10, 0.5, EvolutionOptions(), {Levels(9, 5)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("9 steps")));
}

}  // namespace
}  // namespace videogen::search_worker
