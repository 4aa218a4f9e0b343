// videogen: command-line client of the videogen server.
//
//   videogen [--server=HOST:PORT] [--timeout_s=N] info
//   videogen [--server=HOST:PORT] [--timeout_s=N] health [--service=NAME]
//
// Exit status: 0 success, 1 the server answered with an error or could not be reached (the
// reason is printed), 2 bad usage. `health` exits 0 only if the service is SERVING.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "proto/grpc_health_v1.grpc.pb.h"
#include "proto/videogen_service.grpc.pb.h"

ABSL_FLAG(std::string, server, "localhost:50051", "Address of the videogen server, HOST:PORT.");
ABSL_FLAG(int, timeout_s, 10, "Deadline of each call, in seconds.");
ABSL_FLAG(std::string, service, "",
          "health: the service to ask about, e.g. videogen.v1.VideoGeneration (empty: the "
          "server as a whole).");

namespace videogen::cli {
namespace {

constexpr char kUsage[] =
    "Usage: videogen [--server=HOST:PORT] [--timeout_s=N] COMMAND\n"
    "Commands:\n"
    "  info     print the server's versions, devices and models\n"
    "  health   check that the server (or --service) is serving\n";

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s)));
  return context;
}

int Fail(const grpc::Status& status) {
  const std::string server = absl::GetFlag(FLAGS_server);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr, "videogen: cannot reach the server at %s: %s\n", server.c_str(),
                 status.error_message().c_str());
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::fprintf(stderr, "videogen: no answer from %s within %ds\n", server.c_str(),
                 absl::GetFlag(FLAGS_timeout_s));
  } else {
    std::fprintf(stderr, "videogen: %s (code %d)\n", status.error_message().c_str(),
                 static_cast<int>(status.error_code()));
  }
  return 1;
}

int Info(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = videogen::v1::VideoGeneration::NewStub(channel);
  videogen::v1::GetServerInfoResponse info;
  const grpc::Status status = stub->GetServerInfo(Context().get(), {}, &info);
  if (!status.ok()) return Fail(status);
  std::printf("server   %s (engine %s, torch %s)\n", info.server_version().c_str(),
              info.engine_version().c_str(), info.torch_version().c_str());
  std::printf("cuda     %s, %d device(s)%s%s\n",
              info.cuda_available() ? "available" : "unavailable", info.device_count(),
              info.device_names().empty() ? "" : ": ",
              absl::StrJoin(info.device_names(), ", ").c_str());
  if (info.models().empty()) std::printf("models   none configured\n");
  for (const auto& model : info.models()) {
    std::printf("model    %s%s (%s)\n", model.name().c_str(),
                model.name() == info.default_model() ? " [default]" : "",
                model.ready() ? "ready" : "not ready");
  }
  return 0;
}

int Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  const std::string name = request.service().empty() ? "server" : request.service();
  std::printf("%s: %s\n", name.c_str(),
              grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace
}  // namespace videogen::cli

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(videogen::cli::kUsage);
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fputs(videogen::cli::kUsage, stderr);
    return 2;
  }
  const std::string command = args[1];
  const auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  if (command == "info") return videogen::cli::Info(channel);
  if (command == "health") return videogen::cli::Health(channel);
  std::fprintf(stderr, "videogen: unknown command '%s'\n%s", command.c_str(),
               videogen::cli::kUsage);
  return 2;
}
