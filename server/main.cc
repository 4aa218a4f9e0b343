// videogen_server: the gRPC video-generation server.
//
//   videogen_server --config=/etc/videogen/server.textproto [--listen_address=HOST:PORT]
//                   [--log_level=LEVEL] [--port_file=PATH]
//
// Serves videogen.v1.VideoGeneration, gRPC health checking and server reflection. On SIGTERM or
// SIGINT it reports NOT_SERVING, stops accepting calls, lets calls in flight finish within the
// configured grace period and exits 0.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/common/file.h"
#include "engine/common/logging.h"
#include "engine/common/status_macros.h"
#include "engine/common/version.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/config.h"
#include "server/video_generation_service.h"

ABSL_FLAG(std::string, config, "",
          "Path of the server config (text-format videogen.v1.ServerConfig). Empty: all defaults.");
ABSL_FLAG(std::string, listen_address, "",
          "Overrides the config's listen_address (HOST:PORT; "
          "port 0 picks a free port).");
ABSL_FLAG(std::string, log_level, "",
          "Overrides the config's log_level: trace, debug, info, warn or error.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the port the server listens on is written to this file once it serves.");

namespace videogen::server {
namespace {

using ::videogen::v1::ServerConfig;

constexpr char kVideoGenerationService[] = "videogen.v1.VideoGeneration";

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& config) {
  if (!config.has_tls()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  VG_ASSIGN_OR_RETURN(std::string cert, ReadFile(config.tls().cert_file()));
  VG_ASSIGN_OR_RETURN(std::string key, ReadFile(config.tls().key_file()));
  options.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    VG_ASSIGN_OR_RETURN(config, LoadServerConfig(path));
  } else {
    ApplyServerConfigDefaults(config);
  }
  if (const std::string address = absl::GetFlag(FLAGS_listen_address); !address.empty()) {
    config.set_listen_address(address);
  }
  VG_RETURN_IF_ERROR(ValidateServerConfig(config));
  return config;
}

std::string LogLevelName(const ServerConfig& config) {
  if (const std::string level = absl::GetFlag(FLAGS_log_level); !level.empty()) return level;
  switch (config.log_level()) {
    case videogen::v1::LOG_LEVEL_TRACE:
      return "trace";
    case videogen::v1::LOG_LEVEL_DEBUG:
      return "debug";
    case videogen::v1::LOG_LEVEL_WARN:
      return "warn";
    case videogen::v1::LOG_LEVEL_ERROR:
      return "error";
    default:
      return "info";
  }
}

absl::Status WritePortFile(const std::string& path, int port) {
  // Write then rename, so a reader never sees a partial file.
  const std::string temp = path + ".tmp";
  {
    std::ofstream file(temp);
    file << port << "\n";
    if (!file) return absl::FailedPreconditionError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

absl::Status Run() {
  // Block the shutdown signals in every thread (gRPC's included, which inherit the mask) so that
  // only the sigwait below receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  VG_ASSIGN_OR_RETURN(const ServerConfig config, ConfigFromFlags());
  LoggingOptions logging;
  logging.level = LogLevelName(config);
  VG_RETURN_IF_ERROR(InitLogging(logging));
  auto log = GetLogger(kServerLogger);

  VG_ASSIGN_OR_RETURN(auto service, VideoGenerationService::Create(config));
  VG_ASSIGN_OR_RETURN(auto credentials, Credentials(config));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address(), credentials, &port);
  builder.SetMaxReceiveMessageSize(config.limits().max_request_bytes());
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen_address()));
  }
  // Live now; the video service is ready only once a model is loaded, which this version never
  // does, so load balancers keep video traffic away while health and info calls work.
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kVideoGenerationService, false);
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    VG_RETURN_IF_ERROR(WritePortFile(path, port));
  }
  const std::string& address = config.listen_address();
  log->info("videogen_server {} listening on {}:{} ({})", kVersion,
            address.substr(0, address.rfind(':')), port, config.has_tls() ? "TLS" : "plaintext");

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  log->info("received {}, shutting down (grace {}s)", strsignal(signal_number),
            config.shutdown_grace_period().seconds());
  health->Shutdown();  // Every service reports NOT_SERVING from here on.
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::seconds(config.shutdown_grace_period().seconds()));
  server->Wait();
  log->info("stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace videogen::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("The videogen gRPC server. See --helpfull for flags.");
  absl::ParseCommandLine(argc, argv);
  if (const absl::Status status = videogen::server::Run(); !status.ok()) {
    std::fprintf(stderr, "videogen_server: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
