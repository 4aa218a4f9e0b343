// The search manager on the CPU with the tiny Wan2.1 model: submission and validation, events, a
// search that runs to its published schedule, cancellation, listing, and a search interrupted by
// a shutdown that a new manager resumes from its checkpoint to the uninterrupted result.
#include "server/search_manager.h"

#include <sqlite3.h>

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "search_worker/schedule_search.h"
#include "server/testing/tiny_model_config.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using ::videogen::v1::SearchEvent;
using ::videogen::v1::SearchJob;
using testing::kTinyModel;

class Recorder final : public SearchEventSink {
 public:
  void OnEvent(const SearchEvent& event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
  }
  std::vector<SearchEvent> AwaitResult() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !events_.empty() && events_.back().has_result();
    };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(300)));
    return events_;
  }
  void AwaitProgress() {
    absl::MutexLock lock(&mu_);
    auto progressed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty(); };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&progressed), absl::Seconds(300)));
  }

 private:
  absl::Mutex mu_;
  std::vector<SearchEvent> events_ ABSL_GUARDED_BY(mu_);
};

class SearchManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::TinyModelConfig();
    ASSERT_OK_AND_ASSIGN(pipeline_, engine::wan::Pipeline::Load(config_.models(0).path(),
                                                                at::kFloat, at::kCPU));
    ASSERT_OK_AND_ASSIGN(registry_, ScheduleRegistry::Open(config_.data_dir() + "/schedules.db"));
  }

  // `run_worker` false: a server whose searches run in another process (another manager here).
  absl::StatusOr<std::unique_ptr<SearchManager>> NewManager(bool run_worker = true,
                                                            absl::Duration lease =
                                                                absl::Seconds(60)) {
    SearchManager::Options options;
    options.run_worker = run_worker;
    options.lease = lease;
    options.poll = absl::Milliseconds(20);
    return SearchManager::Create(config_, {{kTinyModel, pipeline_.get(), {}}}, registry_.get(),
                                 nullptr, options);
  }

  static videogen::v1::SearchJobSpec Spec(int generations) {
    videogen::v1::SearchJobSpec spec;
    auto* key = spec.mutable_key();
    key->set_model_id(kTinyModel);
    key->set_height(32);
    key->set_width(48);
    key->set_frames(9);
    key->set_steps(6);
    spec.add_budgets(0.5f);
    spec.add_budgets(0.3f);
    auto* evolution = spec.mutable_evolution();
    evolution->set_population_size(6);
    evolution->set_generations(generations);
    evolution->set_parents(2);
    evolution->set_seed(2);
    spec.add_calibration_prompts("a lighthouse");
    return spec;
  }

  videogen::v1::ServerConfig config_;
  std::unique_ptr<engine::wan::Pipeline> pipeline_;
  std::unique_ptr<ScheduleRegistry> registry_;
};

TEST_F(SearchManagerTest, RunsASearchToPublishedSchedulesWithEvents) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  ASSERT_OK_AND_ASSIGN(const SearchJob submitted, manager->Submit(Spec(2)));
  EXPECT_EQ(submitted.state(), videogen::v1::SEARCH_STATE_QUEUED);
  EXPECT_EQ(submitted.spec().evolution().mutation_p0(), 0.1f);  // Defaults filled in.
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK(manager->Watch(submitted.id(), recorder).status());
  const std::vector<SearchEvent> events = recorder->AwaitResult();
  int progress = 0;
  for (const SearchEvent& event : events) progress += event.has_progress();
  EXPECT_GE(progress, 1);
  const SearchJob& done = events.back().result();
  ASSERT_EQ(done.state(), videogen::v1::SEARCH_STATE_SUCCEEDED) << done.error_message();
  ASSERT_EQ(done.results_size(), 2);
  EXPECT_GT(done.steps_computed(), 0);
  EXPECT_TRUE(done.has_device_time());
  for (const auto& result : done.results()) {
    ASSERT_OK_AND_ASSIGN(const auto schedule, registry_->Get(result.schedule_id()));
    EXPECT_TRUE(schedule.searched());
    EXPECT_EQ(schedule.provenance().search_id(), done.id());
    // 0.3 x 6 steps is below the fallback's two dense steps: no fallback to compare with.
    if (result.budget() == 0.5f) {
      EXPECT_LE(result.fitness_mse(), result.fallback_fitness_mse());
    } else {
      EXPECT_EQ(result.fallback_fitness_mse(), 0);
    }
  }
  ASSERT_OK_AND_ASSIGN(const auto listed, manager->List(10, "", {}));
  ASSERT_EQ(listed.searches.size(), 1u);
  EXPECT_EQ(listed.searches[0].state(), videogen::v1::SEARCH_STATE_SUCCEEDED);
  EXPECT_THAT(manager->Cancel(done.id()), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SearchManagerTest, RefusesBadSpecsAndCancelsQueuedSearches) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  videogen::v1::SearchJobSpec unknown = Spec(1);
  unknown.mutable_key()->set_model_id("other");
  EXPECT_THAT(manager->Submit(unknown), StatusIs(absl::StatusCode::kNotFound));
  videogen::v1::SearchJobSpec bad = Spec(1);
  bad.add_budgets(1.5f);
  EXPECT_THAT(manager->Submit(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("budgets")));
  // The first runs; the second waits and is cancelled at once.
  ASSERT_OK_AND_ASSIGN(const SearchJob first, manager->Submit(Spec(20)));
  ASSERT_OK_AND_ASSIGN(const SearchJob second, manager->Submit(Spec(1)));
  ASSERT_OK_AND_ASSIGN(const SearchJob cancelled, manager->Cancel(second.id()));
  EXPECT_EQ(cancelled.state(), videogen::v1::SEARCH_STATE_CANCELLED);
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK(manager->Watch(first.id(), recorder).status());
  ASSERT_OK(manager->Cancel(first.id()).status());
  EXPECT_EQ(recorder->AwaitResult().back().result().state(),
            videogen::v1::SEARCH_STATE_CANCELLED);
  ASSERT_OK_AND_ASSIGN(const auto listed,
                       manager->List(10, "", {videogen::v1::SEARCH_STATE_CANCELLED}));
  EXPECT_EQ(listed.searches.size(), 2u);
  EXPECT_THAT(manager->Get("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SearchManagerTest, AServerWithoutAWorkerStreamsWhatAnotherProcessRuns) {
  ASSERT_OK_AND_ASSIGN(auto server, NewManager(/*run_worker=*/false));
  ASSERT_OK_AND_ASSIGN(const SearchJob submitted, server->Submit(Spec(2)));
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK(server->Watch(submitted.id(), recorder).status());
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_OK_AND_ASSIGN(const SearchJob waiting, server->Get(submitted.id()));
  EXPECT_EQ(waiting.state(), videogen::v1::SEARCH_STATE_QUEUED);  // Nobody runs it here.
  // A worker sharing the data directory claims it; the server's watcher follows.
  ASSERT_OK_AND_ASSIGN(auto worker, NewManager(/*run_worker=*/true));
  const std::vector<SearchEvent> events = recorder->AwaitResult();
  EXPECT_TRUE(events.front().has_progress());
  EXPECT_EQ(events.back().result().state(), videogen::v1::SEARCH_STATE_SUCCEEDED);

  // Cancelling through the server stops the worker's running search.
  ASSERT_OK_AND_ASSIGN(const SearchJob second, server->Submit(Spec(50)));
  auto second_events = std::make_shared<Recorder>();
  ASSERT_OK(server->Watch(second.id(), second_events).status());
  second_events->AwaitProgress();
  ASSERT_OK(server->Cancel(second.id()).status());
  EXPECT_EQ(second_events->AwaitResult().back().result().state(),
            videogen::v1::SEARCH_STATE_CANCELLED);
}

TEST_F(SearchManagerTest, ASearchWhoseWorkerDiedIsClaimedAgainAfterItsLease) {
  ASSERT_OK_AND_ASSIGN(auto server, NewManager(/*run_worker=*/false));
  ASSERT_OK_AND_ASSIGN(const SearchJob submitted, server->Submit(Spec(1)));
  // A worker "dies": the search is left RUNNING with a lease that has run out.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((config_.data_dir() + "/searches.db").c_str(), &db), SQLITE_OK);
    SearchJob running = submitted;
    running.set_state(videogen::v1::SEARCH_STATE_RUNNING);
    const std::string record = running.SerializeAsString();
    sqlite3_stmt* update = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE searches SET state = ?1, lease_micros = 1, record = ?2",
                                 -1, &update, nullptr),
              SQLITE_OK);
    sqlite3_bind_int(update, 1, videogen::v1::SEARCH_STATE_RUNNING);
    sqlite3_bind_blob(update, 2, record.data(), static_cast<int>(record.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(update), SQLITE_DONE);
    sqlite3_finalize(update);
    sqlite3_close(db);
  }
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK(server->Watch(submitted.id(), recorder).status());
  ASSERT_OK_AND_ASSIGN(auto worker, NewManager(/*run_worker=*/true));
  EXPECT_EQ(recorder->AwaitResult().back().result().state(),
            videogen::v1::SEARCH_STATE_SUCCEEDED);
}

TEST_F(SearchManagerTest, AnInterruptedSearchResumesAfterARestartToTheSameResult) {
  std::string id;
  {
    ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
    ASSERT_OK_AND_ASSIGN(const SearchJob submitted, manager->Submit(Spec(3)));
    id = submitted.id();
    auto recorder = std::make_shared<Recorder>();
    ASSERT_OK(manager->Watch(id, recorder).status());
    recorder->AwaitProgress();
    manager->Stop();
    ASSERT_OK_AND_ASSIGN(const SearchJob stopped, manager->Get(id));
    EXPECT_EQ(stopped.state(), videogen::v1::SEARCH_STATE_QUEUED);
  }
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK(manager->Watch(id, recorder).status());
  const SearchJob resumed = recorder->AwaitResult().back().result();
  ASSERT_EQ(resumed.state(), videogen::v1::SEARCH_STATE_SUCCEEDED) << resumed.error_message();

  // The same search uninterrupted, into another registry.
  auto other = ScheduleRegistry::Open(config_.data_dir() + "/other.db");
  ASSERT_OK(other.status());
  videogen::search_worker::SearchOptions options;
  options.search_id = id;
  ASSERT_OK_AND_ASSIGN(const auto whole, videogen::search_worker::RunScheduleSearch(
                                             *pipeline_, **other, resumed.spec(), options));
  ASSERT_EQ(whole.results.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(resumed.results(i).fitness_mse(), whole.results[i].fitness_mse()) << i;
  }
}

}  // namespace
}  // namespace videogen::server
