// The videogen.v1.VideoGeneration gRPC service: a thin layer over the engine.
//
// This version answers GetServerInfo; the job RPCs (Generate, SubmitJob, ...) are not served yet
// and return UNIMPLEMENTED (gRPC's default for methods a callback service does not override).
//
// Thread-safe: handlers only read state fixed at construction.
#ifndef VIDEOGEN_SERVER_VIDEO_GENERATION_SERVICE_H_
#define VIDEOGEN_SERVER_VIDEO_GENERATION_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/common/runtime_info.h"
#include "proto/server_config.pb.h"
#include "proto/videogen_service.grpc.pb.h"

namespace videogen::server {

class VideoGenerationService final : public videogen::v1::VideoGeneration::CallbackService {
 public:
  // `config` must have its defaults applied (see server/config.h). Queries the runtime once;
  // INTERNAL if the CUDA runtime fails.
  static absl::StatusOr<std::unique_ptr<VideoGenerationService>> Create(
      const videogen::v1::ServerConfig& config);

  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const videogen::v1::GetServerInfoRequest* request,
                                          videogen::v1::GetServerInfoResponse* response) override;

 private:
  explicit VideoGenerationService(videogen::v1::GetServerInfoResponse info);

  const videogen::v1::GetServerInfoResponse info_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_VIDEO_GENERATION_SERVICE_H_
