// The gRPC reactors over an in-process server with the tiny Wan2.1 model on the CPU: the
// Generate stream end to end, client cancellation and deadlines cancelling the job, watchers,
// chunked fetches, admin authorization and the not-yet-ready server.
#include "server/video_generation_service.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
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
constexpr char kAdminToken[] = "s3cret";

class VideoGenerationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::TinyModelConfig();
    config_.set_fetch_chunk_bytes(1000);
    ASSERT_OK_AND_ASSIGN(pipeline_,
                         engine::wan::Pipeline::Load(config_.models(0).path(), at::kFloat, at::kCPU));
    ASSERT_OK_AND_ASSIGN(registry_, ScheduleRegistry::Open(config_.data_dir() + "/schedules.db"));
    ASSERT_OK_AND_ASSIGN(service_, VideoGenerationService::Create(config_, kAdminToken));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = videogen::v1::VideoGeneration::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void Attach() {
    auto results = ResultStore::Open(config_.data_dir() + "/results");
    ASSERT_OK(results.status());
    std::vector<std::unique_ptr<JobRunner>> runners;
    runners.push_back(std::make_unique<JobRunner>(kTinyModel, pipeline_.get(), results->get(),
                                                   registry_.get()));
    ASSERT_OK_AND_ASSIGN(manager_, JobManager::Create(config_, std::move(runners),
                                                      *std::move(results), nullptr));
    service_->Attach(manager_.get());
  }

  void TearDown() override {
    if (manager_ != nullptr) manager_->Drain(absl::ZeroDuration());
    if (server_ != nullptr) server_->Shutdown();
  }

  static VideoJobSpec Spec(int steps) {
    VideoJobSpec spec;
    spec.set_prompt("a lighthouse at dusk");
    spec.set_height(32);
    spec.set_width(48);
    spec.set_frames(9);
    spec.set_steps(steps);
    spec.set_seed(1);
    return spec;
  }

  static VideoJobSpec LongSpec() {
    VideoJobSpec spec = Spec(100);
    spec.set_height(256);
    spec.set_width(256);
    spec.set_frames(81);
    return spec;
  }

  // Reads a Generate/WatchJob stream to its end.
  static std::vector<JobEvent> ReadAll(grpc::ClientReader<JobEvent>* reader, grpc::Status* status) {
    std::vector<JobEvent> events;
    JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    *status = reader->Finish();
    return events;
  }

  // Polls GetJob until the job is finished.
  VideoJob AwaitFinished(const std::string& id) {
    for (int i = 0; i < 1200; ++i) {
      grpc::ClientContext context;
      videogen::v1::GetJobRequest request;
      request.set_job_id(id);
      videogen::v1::GetJobResponse response;
      EXPECT_TRUE(stub_->GetJob(&context, request, &response).ok());
      const auto state = response.job().state();
      if (state != videogen::v1::JOB_STATE_QUEUED && state != videogen::v1::JOB_STATE_RUNNING) {
        return response.job();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not finish";
    return {};
  }

  videogen::v1::ServerConfig config_;
  std::unique_ptr<engine::wan::Pipeline> pipeline_;
  std::unique_ptr<ScheduleRegistry> registry_;
  std::unique_ptr<VideoGenerationService> service_;
  std::unique_ptr<JobManager> manager_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<videogen::v1::VideoGeneration::Stub> stub_;
};

TEST_F(VideoGenerationServiceTest, JobRpcsAreUnavailableUntilTheModelsAreAttached) {
  grpc::ClientContext context;
  videogen::v1::SubmitJobRequest request;
  *request.mutable_spec() = Spec(2);
  videogen::v1::SubmitJobResponse response;
  EXPECT_EQ(stub_->SubmitJob(&context, request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  grpc::ClientContext info_context;
  videogen::v1::GetServerInfoResponse info;
  ASSERT_TRUE(stub_->GetServerInfo(&info_context, {}, &info).ok());
  ASSERT_EQ(info.models_size(), 1);
  EXPECT_FALSE(info.models(0).ready());
}

TEST_F(VideoGenerationServiceTest, GenerateStreamsTheJobAndFetchReturnsTheVideo) {
  Attach();
  grpc::ClientContext context;
  videogen::v1::GenerateRequest request;
  *request.mutable_spec() = Spec(3);
  grpc::Status status;
  const std::vector<JobEvent> events = ReadAll(stub_->Generate(&context, request).get(), &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(events.size(), 3u);
  EXPECT_TRUE(events.front().has_accepted());
  ASSERT_TRUE(events.back().has_result());
  const VideoJob& job = events.back().result();
  EXPECT_EQ(job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << job.error_message();
  bool progress = false, stage = false;
  for (const JobEvent& event : events) {
    progress |= event.has_progress();
    stage |= event.has_stage_changed();
  }
  EXPECT_TRUE(progress);
  EXPECT_TRUE(stage);

  // Chunked fetch from an offset reassembles the tail.
  grpc::ClientContext fetch_context;
  videogen::v1::FetchVideoRequest fetch;
  fetch.set_job_id(job.id());
  fetch.set_offset(10);
  auto reader = stub_->FetchVideo(&fetch_context, fetch);
  videogen::v1::VideoChunk chunk;
  std::string data;
  int chunks = 0;
  bool last = false;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.offset(), 10 + static_cast<int64_t>(data.size()));
    EXPECT_LE(chunk.data().size(), 1000u);
    EXPECT_EQ(chunk.total_size(), job.output().size_bytes());
    data += chunk.data();
    last = chunk.last();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(last);
  EXPECT_EQ(static_cast<int64_t>(data.size()), job.output().size_bytes() - 10);
  EXPECT_GT(chunks, 1);

  // Bad fetches.
  grpc::ClientContext beyond_context;
  fetch.set_offset(job.output().size_bytes() + 1);
  auto beyond = stub_->FetchVideo(&beyond_context, fetch);
  while (beyond->Read(&chunk)) {
  }
  EXPECT_EQ(beyond->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  grpc::ClientContext unknown_context;
  fetch.set_job_id("0123456789abcdef0123456789abcdef");
  fetch.set_offset(0);
  auto unknown = stub_->FetchVideo(&unknown_context, fetch);
  while (unknown->Read(&chunk)) {
  }
  EXPECT_EQ(unknown->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(VideoGenerationServiceTest, ClientCancellingGenerateCancelsTheJob) {
  Attach();
  grpc::ClientContext context;
  videogen::v1::GenerateRequest request;
  *request.mutable_spec() = LongSpec();
  auto reader = stub_->Generate(&context, request);
  JobEvent event;
  std::string id;
  while (reader->Read(&event)) {
    if (event.has_accepted()) id = event.job_id();
    if (event.has_progress()) break;
  }
  ASSERT_FALSE(id.empty());
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const VideoJob job = AwaitFinished(id);
  EXPECT_EQ(job.state(), videogen::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job.error_code(), static_cast<int>(absl::StatusCode::kCancelled));
}

TEST_F(VideoGenerationServiceTest, GenerateDeadlineCancelsTheJobAsDeadlineExceeded) {
  Attach();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  videogen::v1::GenerateRequest request;
  *request.mutable_spec() = LongSpec();
  auto reader = stub_->Generate(&context, request);
  JobEvent event;
  std::string id;
  while (reader->Read(&event)) {
    if (event.has_accepted()) id = event.job_id();
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_FALSE(id.empty());
  const VideoJob job = AwaitFinished(id);
  EXPECT_EQ(job.state(), videogen::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job.error_code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(VideoGenerationServiceTest, ManyWatchersAllSeeTheResultAndLeavingWatchersDoNotCancel) {
  Attach();
  grpc::ClientContext submit_context;
  videogen::v1::SubmitJobRequest submit;
  *submit.mutable_spec() = Spec(20);
  videogen::v1::SubmitJobResponse submitted;
  ASSERT_TRUE(stub_->SubmitJob(&submit_context, submit, &submitted).ok());
  const std::string id = submitted.job().id();

  // A watcher that leaves early.
  {
    grpc::ClientContext context;
    videogen::v1::WatchJobRequest watch;
    watch.set_job_id(id);
    auto reader = stub_->WatchJob(&context, watch);
    JobEvent event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_TRUE(event.has_accepted());
    context.TryCancel();
  }
  std::vector<std::thread> watchers;
  std::atomic<int> succeeded{0};
  for (int i = 0; i < 16; ++i) {
    watchers.emplace_back([&] {
      grpc::ClientContext context;
      videogen::v1::WatchJobRequest watch;
      watch.set_job_id(id);
      grpc::Status status;
      const std::vector<JobEvent> events = ReadAll(stub_->WatchJob(&context, watch).get(), &status);
      if (status.ok() && events.size() >= 2 && events.front().has_accepted() &&
          events.back().has_result() &&
          events.back().result().state() == videogen::v1::JOB_STATE_SUCCEEDED) {
        ++succeeded;
      }
    });
  }
  for (auto& watcher : watchers) watcher.join();
  EXPECT_EQ(succeeded, 16);

  // Watching a finished job: accepted and result.
  grpc::ClientContext context;
  videogen::v1::WatchJobRequest watch;
  watch.set_job_id(id);
  grpc::Status status;
  const std::vector<JobEvent> events = ReadAll(stub_->WatchJob(&context, watch).get(), &status);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].has_accepted());
  EXPECT_TRUE(events[1].has_result());
}

TEST_F(VideoGenerationServiceTest, ListJobsNeedsTheAdminToken) {
  Attach();
  videogen::v1::ListJobsRequest request;
  videogen::v1::ListJobsResponse response;
  grpc::ClientContext anonymous;
  EXPECT_EQ(stub_->ListJobs(&anonymous, request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext wrong;
  wrong.AddMetadata("authorization", "Bearer nope");
  EXPECT_EQ(stub_->ListJobs(&wrong, request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext admin;
  admin.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
  EXPECT_TRUE(stub_->ListJobs(&admin, request, &response).ok());

  // Bad requests name the field.
  grpc::ClientContext bad;
  videogen::v1::SubmitJobRequest submit;
  *submit.mutable_spec() = Spec(2);
  submit.mutable_spec()->set_budget(1.5f);
  videogen::v1::SubmitJobResponse submitted;
  const grpc::Status status = stub_->SubmitJob(&bad, submit, &submitted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("budget"));
  grpc::ClientContext missing;
  videogen::v1::GetJobResponse job;
  EXPECT_EQ(stub_->GetJob(&missing, {}, &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace videogen::server
