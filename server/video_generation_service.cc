#include "server/video_generation_service.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/runtime_info.h"
#include "engine/common/status_macros.h"
#include "engine/common/version.h"
#include "server/admin_auth.h"
#include "server/event_stream.h"
#include "server/grpc_status.h"

namespace videogen::server {
namespace {

using ::videogen::v1::JobEvent;
using ::videogen::v1::VideoChunk;
using ::videogen::v1::VideoJob;

constexpr std::chrono::milliseconds kDeadlineTolerance(200);

bool Terminal(const VideoJob& job) {
  return job.state() == videogen::v1::JOB_STATE_SUCCEEDED ||
         job.state() == videogen::v1::JOB_STATE_FAILED ||
         job.state() == videogen::v1::JOB_STATE_CANCELLED;
}

absl::Status RequireJobId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("job_id is required");
  return absl::OkStatus();
}

// A stream that ends at once with an error.
template <typename T>
class FailedStream final : public grpc::ServerWriteReactor<T> {
 public:
  explicit FailedStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

bool IsProgress(const JobEvent& event) { return event.has_progress(); }
bool IsResult(const JobEvent& event) { return event.has_result(); }
using JobEventStream = EventStream<JobEvent, IsProgress, IsResult>;

// `accepted` with `job`, and `result` too if `job` is finished.
std::vector<JobEvent> FirstEvents(const VideoJob& job, bool deduplicated) {
  std::vector<JobEvent> events(1);
  events[0].set_job_id(job.id());
  *events[0].mutable_event_time() = job.create_time();
  *events[0].mutable_accepted()->mutable_job() = job;
  events[0].mutable_accepted()->set_deduplicated(deduplicated);
  if (Terminal(job)) {
    JobEvent& result = events.emplace_back();
    result.set_job_id(job.id());
    *result.mutable_event_time() = job.finish_time();
    *result.mutable_result() = job;
  }
  return events;
}

// A succeeded job's result in chunks, from the requested offset.
class VideoChunkStream final : public grpc::ServerWriteReactor<VideoChunk> {
 public:
  VideoChunkStream(JobManager* manager, std::string id, int64_t offset, int chunk_bytes)
      : manager_(manager), id_(std::move(id)), offset_(offset), chunk_bytes_(chunk_bytes) {
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
    } else if (chunk_.last()) {
      Finish(grpc::Status::OK);
    } else {
      WriteNext();
    }
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    absl::StatusOr<JobManager::ResultChunk> read =
        manager_->ReadResult(id_, offset_, chunk_bytes_);
    if (!read.ok()) {
      Finish(ToGrpcStatus(read.status()));
      return;
    }
    chunk_.set_offset(offset_);
    offset_ += static_cast<int64_t>(read->data.size());
    chunk_.set_data(std::move(read->data));
    chunk_.set_total_size(read->output.size_bytes());
    chunk_.set_content_type(read->output.content_type());
    chunk_.set_last(offset_ >= read->output.size_bytes());
    StartWrite(&chunk_);
  }

  JobManager* const manager_;
  const std::string id_;
  int64_t offset_;
  const int chunk_bytes_;
  VideoChunk chunk_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VideoGenerationService>> VideoGenerationService::Create(
    const videogen::v1::ServerConfig& config, std::string admin_token) {
  VG_ASSIGN_OR_RETURN(const engine::RuntimeInfo runtime, engine::GetRuntimeInfo());
  videogen::v1::GetServerInfoResponse info;
  info.set_server_version(kVersion);
  info.set_engine_version(kVersion);
  info.set_torch_version(runtime.torch_version);
  info.set_cuda_available(runtime.cuda_available);
  info.set_device_count(static_cast<int>(runtime.devices.size()));
  for (const engine::DeviceInfo& device : runtime.devices) info.add_device_names(device.name);
  for (const auto& model : config.models()) {
    auto* entry = info.add_models();
    entry->set_name(model.name());
    entry->set_ready(false);
  }
  info.set_default_model(config.default_model());
  return std::unique_ptr<VideoGenerationService>(new VideoGenerationService(
      std::move(info), std::move(admin_token), config.fetch_chunk_bytes()));
}

VideoGenerationService::VideoGenerationService(videogen::v1::GetServerInfoResponse info,
                                               std::string admin_token, int fetch_chunk_bytes)
    : admin_token_(std::move(admin_token)),
      fetch_chunk_bytes_(fetch_chunk_bytes),
      info_(std::move(info)) {}

void VideoGenerationService::Attach(JobManager* manager) {
  absl::MutexLock lock(&mu_);
  manager_ = manager;
  for (auto& model : *info_.mutable_models()) model.set_ready(true);
}

absl::StatusOr<JobManager*> VideoGenerationService::Manager() const {
  absl::MutexLock lock(&mu_);
  if (manager_ == nullptr) {
    return absl::UnavailableError("the server is starting: its models are still loading");
  }
  return manager_;
}

grpc::ServerWriteReactor<JobEvent>* VideoGenerationService::Generate(
    grpc::CallbackServerContext* context, const videogen::v1::GenerateRequest* request) {
  absl::StatusOr<JobManager*> manager = Manager();
  if (!manager.ok()) return new FailedStream<JobEvent>(manager.status());
  auto* stream = new JobEventStream();
  absl::StatusOr<JobManager::Submitted> submitted =
      (*manager)->Submit(request->spec(), stream->sink());
  if (!submitted.ok()) {
    stream->Abort(submitted.status());
    return stream;
  }
  const std::string id = submitted->job.id();
  // A deduplicated call attached to someone's existing job: leaving must not cancel it.
  const bool owns_job = !submitted->deduplicated;
  stream->SetHooks(
      [manager = *manager, context, id, owns_job] {
        if (!owns_job) return;
        // A client whose deadline passed resets the stream itself, which can arrive a little
        // before the server's copy of the deadline (measured from when the call arrived) expires.
        const bool deadline =
            context->deadline() <= std::chrono::system_clock::now() + kDeadlineTolerance;
        manager
            ->Cancel(id, deadline ? JobManager::CancelCause::kDeadline
                                  : JobManager::CancelCause::kClientGone)
            .IgnoreError();
      },
      [manager = *manager, id, sink = stream->sink().get()] { manager->Unwatch(id, sink); });
  stream->Begin(FirstEvents(submitted->job, submitted->deduplicated));
  return stream;
}

grpc::ServerUnaryReactor* VideoGenerationService::SubmitJob(
    grpc::CallbackServerContext* context, const videogen::v1::SubmitJobRequest* request,
    videogen::v1::SubmitJobResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    VG_ASSIGN_OR_RETURN(JobManager * manager, Manager());
    VG_ASSIGN_OR_RETURN(JobManager::Submitted submitted, manager->Submit(request->spec()));
    *response->mutable_job() = std::move(submitted.job);
    response->set_deduplicated(submitted.deduplicated);
    return absl::OkStatus();
  }();
  return FinishUnary(context, status);
}

grpc::ServerUnaryReactor* VideoGenerationService::GetJob(grpc::CallbackServerContext* context,
                                                         const videogen::v1::GetJobRequest* request,
                                                         videogen::v1::GetJobResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(RequireJobId(request->job_id()));
    VG_ASSIGN_OR_RETURN(JobManager * manager, Manager());
    VG_ASSIGN_OR_RETURN(*response->mutable_job(), manager->Get(request->job_id()));
    return absl::OkStatus();
  }();
  return FinishUnary(context, status);
}

grpc::ServerWriteReactor<JobEvent>* VideoGenerationService::WatchJob(
    grpc::CallbackServerContext* context, const videogen::v1::WatchJobRequest* request) {
  if (absl::Status status = RequireJobId(request->job_id()); !status.ok()) {
    return new FailedStream<JobEvent>(status);
  }
  absl::StatusOr<JobManager*> manager = Manager();
  if (!manager.ok()) return new FailedStream<JobEvent>(manager.status());
  auto* stream = new JobEventStream();
  const std::string id = request->job_id();
  absl::StatusOr<VideoJob> job = (*manager)->Watch(id, stream->sink());
  if (!job.ok()) {
    stream->Abort(job.status());
    return stream;
  }
  stream->SetHooks(nullptr, [manager = *manager, id, sink = stream->sink().get()] {
    manager->Unwatch(id, sink);
  });
  stream->Begin(FirstEvents(*job, /*deduplicated=*/false));
  return stream;
}

grpc::ServerUnaryReactor* VideoGenerationService::CancelJob(
    grpc::CallbackServerContext* context, const videogen::v1::CancelJobRequest* request,
    videogen::v1::CancelJobResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(RequireJobId(request->job_id()));
    VG_ASSIGN_OR_RETURN(JobManager * manager, Manager());
    VG_ASSIGN_OR_RETURN(*response->mutable_job(), manager->Cancel(request->job_id()));
    return absl::OkStatus();
  }();
  return FinishUnary(context, status);
}

grpc::ServerUnaryReactor* VideoGenerationService::ListJobs(
    grpc::CallbackServerContext* context, const videogen::v1::ListJobsRequest* request,
    videogen::v1::ListJobsResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(AuthorizeAdmin(*context, admin_token_));
    VG_ASSIGN_OR_RETURN(JobManager * manager, Manager());
    JobStore::ListOptions options;
    if (request->page_size() != 0) options.page_size = request->page_size();
    options.page_token = request->page_token();
    for (const int state : request->states()) {
      options.states.push_back(static_cast<videogen::v1::JobState>(state));
    }
    VG_ASSIGN_OR_RETURN(JobStore::ListResult result, manager->List(options));
    for (VideoJob& job : result.jobs) *response->add_jobs() = std::move(job);
    response->set_next_page_token(result.next_page_token);
    return absl::OkStatus();
  }();
  return FinishUnary(context, status);
}

grpc::ServerWriteReactor<VideoChunk>* VideoGenerationService::FetchVideo(
    grpc::CallbackServerContext* /*context*/, const videogen::v1::FetchVideoRequest* request) {
  if (absl::Status status = RequireJobId(request->job_id()); !status.ok()) {
    return new FailedStream<VideoChunk>(status);
  }
  if (request->offset() < 0) {
    return new FailedStream<VideoChunk>(absl::InvalidArgumentError(
        absl::StrCat("offset = ", request->offset(), " is negative")));
  }
  absl::StatusOr<JobManager*> manager = Manager();
  if (!manager.ok()) return new FailedStream<VideoChunk>(manager.status());
  return new VideoChunkStream(*manager, request->job_id(), request->offset(), fetch_chunk_bytes_);
}

grpc::ServerUnaryReactor* VideoGenerationService::GetServerInfo(
    grpc::CallbackServerContext* context, const videogen::v1::GetServerInfoRequest* /*request*/,
    videogen::v1::GetServerInfoResponse* response) {
  {
    absl::MutexLock lock(&mu_);
    *response = info_;
  }
  return FinishUnary(context, absl::OkStatus());
}

}  // namespace videogen::server
