#include "server/video_generation_service.h"

#include <utility>

#include "engine/common/status_macros.h"
#include "engine/common/version.h"

namespace videogen::server {

using ::videogen::v1::GetServerInfoRequest;
using ::videogen::v1::GetServerInfoResponse;

absl::StatusOr<std::unique_ptr<VideoGenerationService>> VideoGenerationService::Create(
    const videogen::v1::ServerConfig& config) {
  VG_ASSIGN_OR_RETURN(const engine::RuntimeInfo runtime, engine::GetRuntimeInfo());
  GetServerInfoResponse info;
  info.set_server_version(kVersion);
  info.set_engine_version(kVersion);
  info.set_torch_version(runtime.torch_version);
  info.set_cuda_available(runtime.cuda_available);
  info.set_device_count(static_cast<int>(runtime.devices.size()));
  for (const engine::DeviceInfo& device : runtime.devices) info.add_device_names(device.name);
  for (const auto& model : config.models()) {
    auto* entry = info.add_models();
    entry->set_name(model.name());
    entry->set_ready(false);  // No model is loaded by this version of the server.
  }
  info.set_default_model(config.default_model());
  return std::unique_ptr<VideoGenerationService>(new VideoGenerationService(std::move(info)));
}

VideoGenerationService::VideoGenerationService(GetServerInfoResponse info)
    : info_(std::move(info)) {}

grpc::ServerUnaryReactor* VideoGenerationService::GetServerInfo(
    grpc::CallbackServerContext* context, const GetServerInfoRequest* /*request*/,
    GetServerInfoResponse* response) {
  *response = info_;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace videogen::server
