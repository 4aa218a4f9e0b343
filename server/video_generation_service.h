// The videogen.v1.VideoGeneration gRPC service: a thin layer of callback reactors over the
// JobManager (server/job_manager.h), which owns the jobs.
//
// Until Attach() hands it the manager (models loaded and warm), the job RPCs fail with
// UNAVAILABLE and GetServerInfo reports the models as not ready. Streams: `Generate` and
// `WatchJob` forward the manager's events as they come; a reader slower than the job gets only
// the newest of consecutive `progress` events (the others are dropped, never queued up).
// `FetchVideo` streams `fetch_chunk_bytes` chunks. Admin RPCs (ListJobs) check the bearer token
// (proto/videogen_service.proto); with no admin token configured they are refused.
//
// Thread-safe.
#ifndef VIDEOGEN_SERVER_VIDEO_GENERATION_SERVICE_H_
#define VIDEOGEN_SERVER_VIDEO_GENERATION_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/server_config.pb.h"
#include "proto/videogen_service.grpc.pb.h"
#include "server/job_manager.h"

namespace videogen::server {

class VideoGenerationService final : public videogen::v1::VideoGeneration::CallbackService {
 public:
  // `config` must have its defaults applied (see server/config.h); `admin_token` is the token of
  // config.admin_token_file (empty: admin RPCs are refused). Queries the runtime once; INTERNAL
  // if the CUDA runtime fails.
  static absl::StatusOr<std::unique_ptr<VideoGenerationService>> Create(
      const videogen::v1::ServerConfig& config, std::string admin_token);

  // Starts serving jobs through `manager`, which must outlive every call (shut the gRPC server
  // down before destroying it).
  void Attach(JobManager* manager);

  grpc::ServerWriteReactor<videogen::v1::JobEvent>* Generate(
      grpc::CallbackServerContext* context,
      const videogen::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const videogen::v1::SubmitJobRequest* request,
                                      videogen::v1::SubmitJobResponse* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const videogen::v1::GetJobRequest* request,
                                   videogen::v1::GetJobResponse* response) override;
  grpc::ServerWriteReactor<videogen::v1::JobEvent>* WatchJob(
      grpc::CallbackServerContext* context,
      const videogen::v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const videogen::v1::CancelJobRequest* request,
                                      videogen::v1::CancelJobResponse* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const videogen::v1::ListJobsRequest* request,
                                     videogen::v1::ListJobsResponse* response) override;
  grpc::ServerWriteReactor<videogen::v1::VideoChunk>* FetchVideo(
      grpc::CallbackServerContext* context,
      const videogen::v1::FetchVideoRequest* request) override;
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const videogen::v1::GetServerInfoRequest* request,
                                          videogen::v1::GetServerInfoResponse* response) override;

 private:
  VideoGenerationService(videogen::v1::GetServerInfoResponse info, std::string admin_token,
                         int fetch_chunk_bytes);

  // The manager, or UNAVAILABLE before Attach().
  absl::StatusOr<JobManager*> Manager() const;

  const std::string admin_token_;
  const int fetch_chunk_bytes_;
  mutable absl::Mutex mu_;
  videogen::v1::GetServerInfoResponse info_ ABSL_GUARDED_BY(mu_);
  JobManager* manager_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_VIDEO_GENERATION_SERVICE_H_
