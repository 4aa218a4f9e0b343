// The job manager end to end on the CPU with the tiny Wan2.1 model of tests/golden/wan_tiny
// (random weights): admission, the engine loop, events, cancellation, the full queue,
// idempotency, results and recovery after an interrupted run.
#include "server/job_manager.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/tiny_model_config.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using ::videogen::v1::JobEvent;
using ::videogen::v1::VideoJob;
using ::videogen::v1::VideoJobSpec;

using testing::kTinyModel;

// Collects the events of a watched job.
class Recorder final : public JobEventSink {
 public:
  void OnEvent(const JobEvent& event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
  }
  // Waits for the `result` event and returns every event.
  std::vector<JobEvent> AwaitResult() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !events_.empty() && events_.back().has_result();
    };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(120)));
    return events_;
  }
  // Waits until a `progress` event arrived.
  void AwaitProgress() {
    absl::MutexLock lock(&mu_);
    auto progressed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const JobEvent& event : events_) {
        if (event.has_progress()) return true;
      }
      return false;
    };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&progressed), absl::Seconds(120)));
  }

 private:
  absl::Mutex mu_;
  std::vector<JobEvent> events_ ABSL_GUARDED_BY(mu_);
};

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::TinyModelConfig();
    ASSERT_OK_AND_ASSIGN(
        pipeline_, engine::wan::Pipeline::Load(config_.models(0).path(), at::kFloat, at::kCPU));
    ASSERT_OK_AND_ASSIGN(registry_, ScheduleRegistry::Open(config_.data_dir() + "/schedules.db"));
  }

  absl::StatusOr<std::unique_ptr<JobManager>> NewManager() {
    VG_ASSIGN_OR_RETURN(auto results, ResultStore::Open(config_.data_dir() + "/results"));
    std::vector<std::unique_ptr<JobRunner>> runners;
    runners.push_back(
        std::make_unique<JobRunner>(kTinyModel, pipeline_.get(), results.get(), registry_.get()));
    return JobManager::Create(config_, std::move(runners), std::move(results), nullptr);
  }

  static VideoJobSpec Spec(int steps, float budget = 1.0f) {
    VideoJobSpec spec;
    spec.set_prompt("a red fox running through snow");
    spec.set_height(32);
    spec.set_width(48);
    spec.set_frames(9);
    spec.set_steps(steps);
    spec.set_budget(budget);
    spec.set_seed(7);
    return spec;
  }

  videogen::v1::ServerConfig config_;
  std::unique_ptr<engine::wan::Pipeline> pipeline_;
  std::unique_ptr<ScheduleRegistry> registry_;
};

TEST_F(JobManagerTest, RunsAJobWithStagesProgressTimingsAndAStoredMp4) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted submitted, manager->Submit(Spec(3)));
  EXPECT_FALSE(submitted.deduplicated);
  EXPECT_EQ(submitted.job.id().size(), 32u);
  EXPECT_EQ(submitted.job.spec().model(), kTinyModel);
  ASSERT_OK(manager->Watch(submitted.job.id(), recorder).status());
  const std::vector<JobEvent> events = recorder->AwaitResult();

  std::vector<videogen::v1::JobStage> stages;
  std::vector<int> steps;
  for (const JobEvent& event : events) {
    EXPECT_EQ(event.job_id(), submitted.job.id());
    if (event.has_stage_changed()) stages.push_back(event.stage_changed().stage());
    if (event.has_progress()) steps.push_back(event.progress().step());
  }
  // The watch may start after the first stage began.
  ASSERT_FALSE(stages.empty());
  EXPECT_EQ(stages.back(), videogen::v1::JOB_STAGE_VIDEO_ENCODING);
  EXPECT_FALSE(steps.empty());
  EXPECT_EQ(steps.back(), 3);

  const VideoJob& job = events.back().result();
  EXPECT_EQ(job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << job.error_message();
  EXPECT_EQ(job.steps_done(), 3);
  EXPECT_EQ(job.tokens_computed(), job.dense_tokens());
  EXPECT_GT(job.dense_tokens(), 0);
  EXPECT_EQ(job.schedule().match(), videogen::v1::SCHEDULE_MATCH_FALLBACK);
  EXPECT_FLOAT_EQ(job.schedule().budget(), 1.0f);
  EXPECT_TRUE(job.stage_timings().has_queued());
  EXPECT_TRUE(job.stage_timings().has_text_encoding());
  EXPECT_TRUE(job.stage_timings().has_denoising());
  EXPECT_TRUE(job.stage_timings().has_vae_decoding());
  EXPECT_TRUE(job.stage_timings().has_video_encoding());
  EXPECT_TRUE(job.stage_timings().has_total());
  EXPECT_EQ(job.output().content_type(), "video/mp4");
  EXPECT_GT(job.output().size_bytes(), 0);
  EXPECT_EQ(job.output().sha256().size(), 64u);
  EXPECT_TRUE(job.output().has_expire_time());

  // The stored record and the result bytes.
  ASSERT_OK_AND_ASSIGN(const VideoJob stored, manager->Get(job.id()));
  EXPECT_EQ(stored.SerializeAsString(), job.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(const JobManager::ResultChunk chunk,
                       manager->ReadResult(job.id(), 0, 1 << 30));
  EXPECT_EQ(static_cast<int64_t>(chunk.data.size()), job.output().size_bytes());
  EXPECT_EQ(chunk.data.substr(4, 4), "ftyp");
}

TEST_F(JobManagerTest, ABudgetRunsTheFallbackScheduleAndComputesFewerTokens) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  VideoJobSpec spec = Spec(10, 0.5f);
  spec.set_output_format(videogen::v1::OUTPUT_FORMAT_RAW_FRAMES);
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted submitted, manager->Submit(spec));
  ASSERT_OK(manager->Watch(submitted.job.id(), recorder).status());
  const VideoJob job = recorder->AwaitResult().back().result();
  ASSERT_EQ(job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << job.error_message();
  EXPECT_FALSE(job.schedule().searched());
  EXPECT_NEAR(job.schedule().budget(), 0.5, 0.05);
  EXPECT_GT(job.schedule().predicted_speedup(), 1.0f);
  EXPECT_LT(job.tokens_computed(), job.dense_tokens() * 0.6);
  EXPECT_EQ(job.output().size_bytes(), 9 * 32 * 48 * 3);
  EXPECT_EQ(job.output().content_type(), "application/octet-stream");

  // A budget the dense first and last steps alone exceed is refused at admission.
  EXPECT_THAT(manager->Submit(Spec(3, 0.1f)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("budget")));
}

TEST_F(JobManagerTest, AnAccelerationPolicyRunsWithoutASchedule) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  VideoJobSpec spec = Spec(6);
  spec.set_acceleration("pab(self=2,cross=3,untouched=0)");
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted submitted, manager->Submit(spec));
  EXPECT_EQ(submitted.job.spec().acceleration(), "pab(self=2,cross=3,untouched=0)");
  ASSERT_OK(manager->Watch(submitted.job.id(), recorder).status());
  const VideoJob job = recorder->AwaitResult().back().result();
  ASSERT_EQ(job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << job.error_message();
  EXPECT_FALSE(job.has_schedule());
  EXPECT_GT(job.tokens_computed(), 0);
  EXPECT_LT(job.tokens_computed(), job.dense_tokens());

  // Settings that do not fit the job are refused at admission.
  spec.set_acceleration("delta_dit");  // Its window ends at step 45.
  EXPECT_THAT(manager->Submit(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("45")));
}

TEST_F(JobManagerTest, AJobRunsTheRegistrysSearchedScheduleAndNamesIt) {
  videogen::v1::Schedule searched;
  auto* key = searched.mutable_key();
  key->set_model_id(kTinyModel);
  key->set_height(32);
  key->set_width(48);
  key->set_frames(9);
  key->set_steps(4);
  searched.set_budget(0.5f);
  for (const float theta : {1.0f, 0.2f, 0.0f, 0.8f}) searched.add_thetas(theta);
  searched.set_searched(true);
  searched.mutable_provenance()->set_fitness_mse(0.01);
  ASSERT_OK_AND_ASSIGN(const videogen::v1::Schedule stored, registry_->Put(searched));
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  auto recorder = std::make_shared<Recorder>();
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted submitted, manager->Submit(Spec(4, 0.6f)));
  ASSERT_OK(manager->Watch(submitted.job.id(), recorder).status());
  const VideoJob job = recorder->AwaitResult().back().result();
  ASSERT_EQ(job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << job.error_message();
  EXPECT_EQ(job.schedule().schedule_id(), stored.id());
  EXPECT_EQ(job.schedule().version(), 1);
  EXPECT_EQ(job.schedule().match(), videogen::v1::SCHEDULE_MATCH_EXACT_KEY);
  EXPECT_TRUE(job.schedule().searched());
  EXPECT_DOUBLE_EQ(job.schedule().fitness_mse(), 0.01);
  // The schedule's tokens: (1 + 0.2 + 0 + 0.8) / 4 of dense.
  EXPECT_EQ(job.tokens_computed() * 2, job.dense_tokens());
}

TEST_F(JobManagerTest, CancelsQueuedAndRunningJobs) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  VideoJobSpec long_spec = Spec(100);
  long_spec.set_height(256);
  long_spec.set_width(256);
  long_spec.set_frames(81);
  auto running = std::make_shared<Recorder>();
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted first, manager->Submit(long_spec));
  ASSERT_OK(manager->Watch(first.job.id(), running).status());
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted second, manager->Submit(Spec(3)));
  running->AwaitProgress();

  // The queued one ends at once.
  ASSERT_OK_AND_ASSIGN(const VideoJob queued, manager->Cancel(second.job.id()));
  EXPECT_EQ(queued.state(), videogen::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(queued.error_code(), static_cast<int>(absl::StatusCode::kCancelled));
  // Cancelling again changes nothing.
  ASSERT_OK_AND_ASSIGN(const VideoJob again, manager->Cancel(second.job.id()));
  EXPECT_EQ(again.SerializeAsString(), queued.SerializeAsString());

  // The running one stops at a step boundary, as a deadline.
  ASSERT_OK(manager->Cancel(first.job.id(), JobManager::CancelCause::kDeadline).status());
  const VideoJob stopped = running->AwaitResult().back().result();
  EXPECT_EQ(stopped.state(), videogen::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(stopped.error_code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(stopped.steps_done(), 100);
  EXPECT_THAT(manager->ReadResult(stopped.id(), 0, 10),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(manager->Cancel("0123456789abcdef0123456789abcdef"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(JobManagerTest, EnginesRunJobsSideBySideAndCancelTheRightOne) {
  // Two engines (as two devices or engine groups would be) over the same pipeline.
  ASSERT_OK_AND_ASSIGN(auto results, ResultStore::Open(config_.data_dir() + "/results"));
  std::vector<JobManager::Engine> engines(2);
  for (JobManager::Engine& engine : engines) {
    engine.runners.push_back(
        std::make_unique<JobRunner>(kTinyModel, pipeline_.get(), results.get(), registry_.get()));
  }
  ASSERT_OK_AND_ASSIGN(
      auto manager, JobManager::Create(config_, std::move(engines), std::move(results), nullptr));
  VideoJobSpec long_spec = Spec(100);
  long_spec.set_height(256);
  long_spec.set_width(256);
  long_spec.set_frames(81);
  auto first = std::make_shared<Recorder>(), second = std::make_shared<Recorder>();
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted a, manager->Submit(long_spec, first));
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted b, manager->Submit(long_spec, second));
  first->AwaitProgress();
  second->AwaitProgress();  // Both run at once: neither waits for the other.
  EXPECT_EQ(manager->running(), 2);
  EXPECT_EQ(manager->queued(), 0);

  ASSERT_OK(manager->Cancel(b.job.id()).status());
  const VideoJob cancelled = second->AwaitResult().back().result();
  EXPECT_EQ(cancelled.state(), videogen::v1::JOB_STATE_CANCELLED);
  ASSERT_OK_AND_ASSIGN(const VideoJob still, manager->Get(a.job.id()));
  EXPECT_EQ(still.state(), videogen::v1::JOB_STATE_RUNNING);
  ASSERT_OK(manager->Cancel(a.job.id()).status());
  EXPECT_EQ(first->AwaitResult().back().result().state(), videogen::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(manager->running(), 0);
}

TEST_F(JobManagerTest, NeedsAnEngineWithEveryModel) {
  ASSERT_OK_AND_ASSIGN(auto results, ResultStore::Open(config_.data_dir() + "/results"));
  std::vector<JobManager::Engine> engines(2);
  engines[0].runners.push_back(
      std::make_unique<JobRunner>(kTinyModel, pipeline_.get(), results.get(), registry_.get()));
  EXPECT_THAT(JobManager::Create(config_, std::move(engines), std::move(results), nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("on engine 1")));
}

TEST_F(JobManagerTest, AFullQueueRefusesWithoutLosingAcceptedJobs) {
  config_.set_max_queued_jobs(2);
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  std::vector<std::string> accepted;
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    absl::StatusOr<JobManager::Submitted> submitted = manager->Submit(Spec(2));
    if (submitted.ok()) {
      accepted.push_back(submitted->job.id());
    } else {
      EXPECT_THAT(submitted, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("full")));
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GE(accepted.size(), 2u);
  for (const std::string& id : accepted) {
    auto recorder = std::make_shared<Recorder>();
    ASSERT_OK_AND_ASSIGN(const VideoJob job, manager->Watch(id, recorder));
    const VideoJob final_job = job.state() == videogen::v1::JOB_STATE_SUCCEEDED
                                   ? job
                                   : recorder->AwaitResult().back().result();
    EXPECT_EQ(final_job.state(), videogen::v1::JOB_STATE_SUCCEEDED);
  }
  JobStore::ListOptions options;
  options.page_size = 100;
  ASSERT_OK_AND_ASSIGN(const JobStore::ListResult listed, manager->List(options));
  EXPECT_EQ(listed.jobs.size(), accepted.size());  // Refused jobs left no record.
}

TEST_F(JobManagerTest, IdempotencyKeyReturnsTheSameJob) {
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  VideoJobSpec spec = Spec(2);
  spec.set_idempotency_key("retry-1");
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted first, manager->Submit(spec));
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted retry, manager->Submit(spec));
  EXPECT_TRUE(retry.deduplicated);
  EXPECT_EQ(retry.job.id(), first.job.id());
  spec.set_prompt("another prompt");
  EXPECT_THAT(manager->Submit(spec), StatusIs(absl::StatusCode::kAlreadyExists));
  // Without a seed the retry still matches: the key gives the seed.
  VideoJobSpec unseeded = Spec(2);
  unseeded.clear_seed();
  unseeded.set_idempotency_key("retry-2");
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted unseeded_first, manager->Submit(unseeded));
  ASSERT_OK_AND_ASSIGN(const JobManager::Submitted unseeded_retry, manager->Submit(unseeded));
  EXPECT_TRUE(unseeded_retry.deduplicated);
  EXPECT_EQ(unseeded_retry.job.id(), unseeded_first.job.id());
}

TEST_F(JobManagerTest, DrainRequeuesTheRunningJobAndTheNextStartFinishesIt) {
  VideoJobSpec long_spec = Spec(100);
  long_spec.set_height(64);  // About a second: still running when the drain starts.
  long_spec.set_width(64);
  long_spec.set_frames(33);
  std::string interrupted, queued;
  {
    ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
    auto recorder = std::make_shared<Recorder>();
    ASSERT_OK_AND_ASSIGN(const JobManager::Submitted first, manager->Submit(long_spec));
    ASSERT_OK(manager->Watch(first.job.id(), recorder).status());
    ASSERT_OK_AND_ASSIGN(const JobManager::Submitted second, manager->Submit(Spec(2)));
    interrupted = first.job.id();
    queued = second.job.id();
    recorder->AwaitProgress();
    manager->Drain(absl::ZeroDuration());
    EXPECT_THAT(manager->Submit(Spec(2)), StatusIs(absl::StatusCode::kUnavailable));
    ASSERT_OK_AND_ASSIGN(const VideoJob stored, manager->Get(interrupted));
    EXPECT_EQ(stored.state(), videogen::v1::JOB_STATE_QUEUED);
  }
  ASSERT_OK_AND_ASSIGN(auto manager, NewManager());
  for (const std::string& id : {interrupted, queued}) {
    auto recorder = std::make_shared<Recorder>();
    ASSERT_OK_AND_ASSIGN(const VideoJob job, manager->Watch(id, recorder));
    const VideoJob final_job = job.state() == videogen::v1::JOB_STATE_SUCCEEDED
                                   ? job
                                   : recorder->AwaitResult().back().result();
    EXPECT_EQ(final_job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << final_job.error_message();
  }
}

}  // namespace
}  // namespace videogen::server
