// The schedule search end to end on the CPU with the tiny Wan2.1 model of tests/golden/wan_tiny:
// the searched schedule beats the uniform one at the same budget, is published to the registry
// and served by lookups, and a search interrupted mid-way resumes from its checkpoint to the same
// result.
#include "search_worker/schedule_search.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "search_worker/latent_fitness.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::search_worker {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using ::videogen::v1::SearchJobSpec;

class ScheduleSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(pipeline_,
                         engine::wan::Pipeline::Load(
                             videogen::testing::RunfilePath("tests/golden/wan_tiny"), at::kFloat,
                             at::kCPU));
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }

  static SearchJobSpec Spec() {
    SearchJobSpec spec;
    auto* key = spec.mutable_key();
    key->set_model_id("wan-tiny");
    key->set_height(32);
    key->set_width(48);
    key->set_frames(9);
    key->set_steps(8);
    spec.add_budgets(0.5f);
    auto* evolution = spec.mutable_evolution();
    evolution->set_population_size(8);
    evolution->set_generations(4);
    evolution->set_parents(3);
    evolution->set_seed(5);
    spec.add_calibration_prompts("a red fox in the snow");
    spec.add_calibration_prompts("a city street at night");
    return spec;
  }

  std::unique_ptr<engine::wan::Pipeline> pipeline_;
  std::string dir_;
};

TEST_F(ScheduleSearchTest, FindsABetterScheduleThanUniformAndPublishesIt) {
  ASSERT_OK_AND_ASSIGN(auto registry, server::ScheduleRegistry::Open(dir_ + "/schedules.db"));
  ASSERT_OK_AND_ASSIGN(const SearchJobSpec spec, NormalizeSearchSpec(Spec(), 0));
  std::vector<videogen::v1::SearchProgress> progress;
  SearchOptions options;
  options.search_id = "search-a";
  options.on_progress = [&](const videogen::v1::SearchProgress& p) { progress.push_back(p); };
  ASSERT_OK_AND_ASSIGN(const SearchOutcome outcome,
                       RunScheduleSearch(*pipeline_, *registry, spec, options));
  ASSERT_EQ(outcome.results.size(), 1u);
  const videogen::v1::SearchResult& result = outcome.results[0];
  EXPECT_GT(outcome.steps_reused, 0);
  EXPECT_LE(result.fitness_mse(), result.fallback_fitness_mse());
  ASSERT_EQ(progress.size(), 5u);  // The initial population and 4 generations.
  EXPECT_EQ(progress.back().generation(), 4);
  EXPECT_LE(progress.back().best_fitness_mse(), progress.front().best_fitness_mse());

  // Against the uniform schedule at the same budget, measured on its own.
  engine::wan::GenerateRequest base;
  base.height = 32;
  base.width = 48;
  base.frames = 9;
  base.steps = 8;
  ASSERT_OK_AND_ASSIGN(auto fitness,
                       LatentFitness::Create(pipeline_.get(), base,
                                             {{"a red fox in the snow", "a city street at night"},
                                              {0, 1}}));
  ASSERT_OK_AND_ASSIGN(const auto uniform, fitness.Evaluate({Levels(8, 5)}));
  EXPECT_LT(result.fitness_mse(), uniform[0]);

  // Published, and what a job with the key and budget gets.
  ASSERT_OK_AND_ASSIGN(const auto found, registry->Lookup(spec.key(), 0.5f));
  EXPECT_EQ(found.match, videogen::v1::SCHEDULE_MATCH_EXACT_KEY);
  EXPECT_EQ(found.schedule.id(), result.schedule_id());
  EXPECT_TRUE(found.schedule.searched());
  EXPECT_EQ(found.schedule.provenance().search_id(), "search-a");
  EXPECT_EQ(found.schedule.provenance().calibration_prompts_size(), 2);
  EXPECT_DOUBLE_EQ(found.schedule.provenance().fitness_mse(), result.fitness_mse());
  EXPECT_GT(result.psnr_db(), 0);
  EXPECT_LT(result.psnr_db(), 100);
  EXPECT_DOUBLE_EQ(found.schedule.provenance().psnr_db(), result.psnr_db());
  // A dense schedule's video is the dense video.
  ASSERT_OK_AND_ASSIGN(const double dense_psnr, fitness.Psnr(Levels(8, 10)));
  EXPECT_EQ(dense_psnr, 100.0);
}

TEST_F(ScheduleSearchTest, AnInterruptedSearchResumesFromItsCheckpointToTheSameResult) {
  ASSERT_OK_AND_ASSIGN(const SearchJobSpec spec, NormalizeSearchSpec(Spec(), 0));
  ASSERT_OK_AND_ASSIGN(auto whole_registry,
                       server::ScheduleRegistry::Open(dir_ + "/whole.db"));
  SearchOptions whole;
  whole.search_id = "s";
  ASSERT_OK_AND_ASSIGN(const SearchOutcome whole_outcome,
                       RunScheduleSearch(*pipeline_, *whole_registry, spec, whole));
  const auto& expected = whole_outcome.results;

  ASSERT_OK_AND_ASSIGN(auto registry, server::ScheduleRegistry::Open(dir_ + "/resumed.db"));
  SearchOptions interrupted;
  interrupted.search_id = "s";
  interrupted.checkpoint_path = dir_ + "/checkpoint.json";
  int generations = 0;
  interrupted.on_progress = [&](const videogen::v1::SearchProgress&) { ++generations; };
  interrupted.cancelled = [&] { return generations >= 2; };  // Stops inside generation 2.
  EXPECT_THAT(RunScheduleSearch(*pipeline_, *registry, spec, interrupted),
              StatusIs(absl::StatusCode::kCancelled));
  ASSERT_TRUE(std::filesystem::exists(interrupted.checkpoint_path));

  SearchOptions resumed;
  resumed.search_id = "s";
  resumed.checkpoint_path = interrupted.checkpoint_path;
  ASSERT_OK_AND_ASSIGN(const SearchOutcome outcome,
                       RunScheduleSearch(*pipeline_, *registry, spec, resumed));
  const auto& results = outcome.results;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(results[0].fitness_mse(), expected[0].fitness_mse());
  EXPECT_EQ(results[0].generation(), expected[0].generation());
  ASSERT_OK_AND_ASSIGN(const auto a, registry->Get(results[0].schedule_id()));
  ASSERT_OK_AND_ASSIGN(const auto b, whole_registry->Get(expected[0].schedule_id()));
  EXPECT_EQ(a.thetas().size(), b.thetas().size());
  for (int t = 0; t < a.thetas_size(); ++t) EXPECT_EQ(a.thetas(t), b.thetas(t));

  SearchOptions other;
  other.search_id = "another";
  other.checkpoint_path = interrupted.checkpoint_path;
  EXPECT_THAT(RunScheduleSearch(*pipeline_, *registry, spec, other),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("search another")));
}

TEST_F(ScheduleSearchTest, PrefixReuseAndReplicasGiveTheSameFitness) {
  engine::wan::GenerateRequest base;
  base.height = 32;
  base.width = 48;
  base.frames = 9;
  base.steps = 8;
  const LatentFitness::Calibration calibration = {{"a red fox", "a city street"}, {3, 4}};
  // Candidates sharing prefixes of 0 to 7 steps, in no particular order.
  const std::vector<Levels> candidates = {
      {5, 5, 5, 5, 5, 5, 5, 5}, {10, 0, 3, 7, 5, 5, 2, 8}, {5, 5, 5, 5, 0, 10, 5, 5},
      {10, 0, 3, 7, 5, 5, 2, 9}, {5, 5, 4, 6, 5, 5, 5, 5}, {10, 0, 3, 7, 5, 1, 2, 8}};
  LatentFitness::Options plain;
  plain.reuse_prefixes = false;
  ASSERT_OK_AND_ASSIGN(auto without, LatentFitness::Create(pipeline_.get(), base, calibration,
                                                           plain));
  ASSERT_OK_AND_ASSIGN(const auto expected, without.Evaluate(candidates));
  LatentFitness::Options small;
  small.snapshot_bytes = 1;  // One saved state at a time: a stride of 8 steps.
  for (const LatentFitness::Options& options : {LatentFitness::Options(), small}) {
    ASSERT_OK_AND_ASSIGN(auto with, LatentFitness::Create(pipeline_.get(), base, calibration,
                                                          options));
    ASSERT_OK_AND_ASSIGN(const auto mse, with.Evaluate(candidates));
    for (size_t i = 0; i < candidates.size(); ++i) EXPECT_EQ(mse[i], expected[i]) << i;
    EXPECT_EQ(with.steps_computed() + with.steps_reused(), without.steps_computed());
  }
  // Split over a second copy of the model (another device in production), in parallel.
  ASSERT_OK_AND_ASSIGN(auto replica,
                       engine::wan::Pipeline::Load(
                           videogen::testing::RunfilePath("tests/golden/wan_tiny"), at::kFloat,
                           at::kCPU));
  LatentFitness::Options two;
  two.replicas = {replica.get()};
  ASSERT_OK_AND_ASSIGN(auto parallel,
                       LatentFitness::Create(pipeline_.get(), base, calibration, two));
  ASSERT_OK_AND_ASSIGN(const auto split, parallel.Evaluate(candidates));
  for (size_t i = 0; i < candidates.size(); ++i) EXPECT_EQ(split[i], expected[i]) << i;

  ASSERT_OK_AND_ASSIGN(auto with, LatentFitness::Create(pipeline_.get(), base, calibration));
  ASSERT_OK(with.Evaluate(candidates).status());
  // Sorted: 5555... shares 2, then 4 steps; 10 0 3 7 5 5 2 8 shares 7, then 5 steps.
  EXPECT_EQ(with.steps_reused(), 2 * (2 + 4 + 5 + 7));
  EXPECT_EQ(without.steps_reused(), 0);
}

TEST_F(ScheduleSearchTest, AProxySearchRecordsTheFitnessAtTheFullKey) {
  ASSERT_OK_AND_ASSIGN(auto registry, server::ScheduleRegistry::Open(dir_ + "/schedules.db"));
  SearchJobSpec spec = Spec();
  spec.mutable_proxy()->set_frames(5);
  spec.mutable_proxy()->set_height(16);
  ASSERT_OK_AND_ASSIGN(spec, NormalizeSearchSpec(spec, 0));
  EXPECT_EQ(spec.proxy().width(), 48);  // Unset proxy fields are the key's.
  SearchOptions options;
  options.search_id = "proxy";
  ASSERT_OK_AND_ASSIGN(const SearchOutcome outcome,
                       RunScheduleSearch(*pipeline_, *registry, spec, options));
  ASSERT_OK_AND_ASSIGN(const auto schedule, registry->Get(outcome.results[0].schedule_id()));
  // The recorded fitness is the schedule's at the full 32x48x9 key.
  engine::wan::GenerateRequest base;
  base.height = 32;
  base.width = 48;
  base.frames = 9;
  base.steps = 8;
  ASSERT_OK_AND_ASSIGN(auto full,
                       LatentFitness::Create(pipeline_.get(), base,
                                             {{"a red fox in the snow", "a city street at night"},
                                              {0, 1}}));
  Levels levels;
  for (const float theta : schedule.thetas()) levels.push_back(static_cast<int>(theta * 10 + 0.5f));
  ASSERT_OK_AND_ASSIGN(const auto mse, full.Evaluate({levels}));
  EXPECT_DOUBLE_EQ(outcome.results[0].fitness_mse(), mse[0]);
  EXPECT_DOUBLE_EQ(schedule.provenance().fitness_mse(), mse[0]);
}

TEST(NormalizeSearchSpecTest, FillsDefaultsAndRejectsBadFields) {
  SearchJobSpec spec;
  auto* key = spec.mutable_key();
  key->set_model_id("m");
  key->set_height(480);
  key->set_width(832);
  key->set_frames(33);
  key->set_steps(50);
  spec.add_budgets(0.4f);
  ASSERT_OK_AND_ASSIGN(const SearchJobSpec normalized, NormalizeSearchSpec(spec, 99));
  EXPECT_EQ(normalized.evolution().population_size(), 50);
  EXPECT_EQ(normalized.evolution().generations(), 30);
  EXPECT_EQ(normalized.evolution().parents(), 10);
  EXPECT_FLOAT_EQ(normalized.evolution().mutation_p0(), 0.1f);
  EXPECT_EQ(normalized.evolution().seed(), 99u);
  EXPECT_EQ(normalized.calibration_prompts_size(), 4);
  EXPECT_THAT(normalized.calibration_seeds(), ::testing::ElementsAre(0, 1, 2, 3));

  SearchJobSpec bad = spec;
  bad.add_budgets(0.4f);
  EXPECT_THAT(NormalizeSearchSpec(bad, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("budgets")));
  bad = spec;
  bad.add_calibration_seeds(1);
  EXPECT_THAT(NormalizeSearchSpec(bad, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calibration_seeds")));
  bad = spec;
  bad.mutable_proxy()->set_frames(65);
  EXPECT_THAT(NormalizeSearchSpec(bad, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("proxy")));
  bad = spec;
  bad.mutable_evolution()->set_parents(100);
  EXPECT_THAT(NormalizeSearchSpec(bad, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parents")));
}

}  // namespace
}  // namespace videogen::search_worker
