// videogen_server: the gRPC video-generation server.
//
//   videogen_server --config=/etc/videogen/server.textproto [--listen_address=HOST:PORT]
//                   [--data_dir=DIR] [--metrics_port=N] [--log_level=LEVEL] [--port_file=PATH]
//
// Serves videogen.v1.VideoGeneration, videogen.v1.ScheduleRegistry, videogen.v1.ScheduleSearch
// (searches run on the loaded models while no video job waits), gRPC health checking, server
// reflection and Prometheus metrics. Start-up: the gRPC port serves at once (health: the
// server SERVING, the video service NOT_SERVING); the configured models load on the first CUDA
// device (bfloat16) or the CPU (float32), each runs a warm-up generation, then the video service
// turns SERVING. On SIGTERM or SIGINT: NOT_SERVING, no new jobs, the running job gets the
// configured grace period to finish (else it is re-queued for the next start), open calls are
// cancelled, exit 0.
//
// Multi-GPU: the config's engine_layout splits the host's GPUs into engine groups that run jobs
// side by side (default: one group of all GPUs). This process is rank 0 of every group and
// starts the other ranks itself, as processes of this binary with the same command line
// (server/engine_group_host.h); a rank started so (VIDEOGEN_RANK in its environment) serves its
// group instead of gRPC. If a group breaks (a rank lost), the video service turns NOT_SERVING.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "engine/common/file.h"
#include "engine/common/logging.h"
#include "engine/common/runtime_info.h"
#include "engine/common/status_macros.h"
#include "engine/common/version.h"
#include "engine/parallel/launcher.h"
#include "engine/video/mp4_writer.h"
#include "engine/wan/pipeline.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/config.h"
#include "server/engine_group_host.h"
#include "server/job_manager.h"
#include "server/job_metrics.h"
#include "server/job_runner.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/result_store.h"
#include "server/schedule_registry.h"
#include "server/schedule_registry_service.h"
#include "server/schedule_search_service.h"
#include "server/search_manager.h"
#include "server/video_generation_service.h"

ABSL_FLAG(std::string, config, "",
          "Path of the server config (text-format videogen.v1.ServerConfig). Empty: all defaults.");
ABSL_FLAG(std::string, listen_address, "",
          "Overrides the config's listen_address (HOST:PORT; "
          "port 0 picks a free port).");
ABSL_FLAG(std::string, log_level, "",
          "Overrides the config's log_level: trace, debug, info, warn or error.");
ABSL_FLAG(std::string, data_dir, "", "Overrides the config's data_dir.");
ABSL_FLAG(int, metrics_port, -1, "Overrides the config's metrics_port (0 disables metrics).");
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
  if (const std::string dir = absl::GetFlag(FLAGS_data_dir); !dir.empty()) {
    // A registry path derived from the old data_dir follows the new one.
    if (config.schedule_registry_path() == config.data_dir() + "/schedules.db") {
      config.set_schedule_registry_path(dir + "/schedules.db");
    }
    config.set_data_dir(dir);
  }
  if (const int port = absl::GetFlag(FLAGS_metrics_port); port >= 0) config.set_metrics_port(port);
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

absl::StatusOr<std::string> AdminToken(const ServerConfig& config) {
  if (config.admin_token_file().empty()) return std::string();
  VG_ASSIGN_OR_RETURN(const std::string text, ReadFile(config.admin_token_file()));
  const std::string token(absl::StripAsciiWhitespace(text));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin_token_file ", config.admin_token_file(), " is empty"));
  }
  return token;
}

// The configured models of every engine, loaded and warmed up, with a runner each.
struct LoadedModels {
  std::vector<std::unique_ptr<engine::wan::Pipeline>> pipelines;  // Engine-major.
  std::vector<JobManager::Engine> engines;
};

// Loads the models once per engine of `plan`: on its device, or as rank 0 of its group
// `groups[g]` (whose followers load theirs in the same order).
absl::StatusOr<LoadedModels> LoadModels(const ServerConfig& config, const EngineGroupPlan& plan,
                                        const std::vector<std::unique_ptr<EngineGroupHost>>& groups,
                                        const ResultStore* results,
                                        const ScheduleRegistry* registry) {
  auto log = GetLogger(kServerLogger);
  engine::video::Mp4Options mp4;
  mp4.crf = config.mp4().crf();
  mp4.preset = config.mp4().preset();
  LoadedModels models;
  for (int g = 0; g < plan.groups; ++g) {
    EngineGroupHost* const group = groups.empty() ? nullptr : groups[g].get();
    const at::Device device = plan.DeviceOf(g, 0);
    std::vector<const engine::wan::Pipeline*> pipelines;
    for (const auto& model : config.models()) {
      const absl::Time start = absl::Now();
      absl::StatusOr<std::unique_ptr<engine::wan::Pipeline>> pipeline = engine::wan::Pipeline::Load(
          model.path(), plan.Dtype(), device, group != nullptr ? &group->context() : nullptr);
      if (!pipeline.ok()) {
        return absl::Status(
            pipeline.status().code(),
            absl::StrCat("model \"", model.name(), "\": ", pipeline.status().message()));
      }
      log->info("model {} loaded from {} on {} in {:.1f}s", model.name(), model.path(),
                device.str(), absl::ToDoubleSeconds(absl::Now() - start));
      pipelines.push_back(pipeline->get());
      models.pipelines.push_back(*std::move(pipeline));
    }
    if (group != nullptr) group->SetModels(pipelines);
    JobManager::Engine& engine = models.engines.emplace_back();
    engine.device = device.is_cuda() ? device.index() : 0;
    for (int i = 0; i < config.models_size(); ++i) {
      const absl::Time start = absl::Now();
      EngineGroupSlot slot;
      if (group != nullptr) slot = {group->leader(), i};
      auto runner = std::make_unique<JobRunner>(config.models(i).name(), pipelines[i], results,
                                                registry, mp4, slot);
      VG_RETURN_IF_ERROR(runner->WarmUp());
      log->info("model {} warmed up on engine {} in {:.1f}s", config.models(i).name(), g,
                absl::ToDoubleSeconds(absl::Now() - start));
      engine.runners.push_back(std::move(runner));
    }
  }
  return models;
}

// The engine groups of `plan` whose ranks span several devices, each with its followers
// started (empty for single-device engines).
absl::StatusOr<std::vector<std::unique_ptr<EngineGroupHost>>> StartEngineGroups(
    const EngineGroupPlan& plan, const std::vector<std::string>& command_line) {
  std::vector<std::unique_ptr<EngineGroupHost>> groups;
  if (plan.ranks == 1) return groups;
  GetLogger(kServerLogger)
      ->info("starting {} engine group(s) of {} ranks on {}, layout {}", plan.groups, plan.ranks,
             plan.cuda ? "GPUs" : "the CPU", plan.layout.ToString());
  for (int g = 0; g < plan.groups; ++g) {
    VG_ASSIGN_OR_RETURN(groups.emplace_back(),
                        EngineGroupHost::Start(plan, g, engine::parallel::CurrentExecutable(),
                                               std::vector<std::string>(command_line.begin() + 1,
                                                                        command_line.end())));
  }
  return groups;
}

// Runs this process as a follower rank of an engine group: it ends with the server (killed if
// the server dies) and leaves shutdown signals to it.
absl::Status RunFollower(const engine::parallel::RankEnvironment& rank) {
  // (PR_SET_PDEATHSIG would fire when the server's thread that started this rank ends.)
  const pid_t server = getppid();
  std::thread([server] {
    while (getppid() == server) absl::SleepFor(absl::Seconds(1));
    _exit(1);
  }).detach();
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  VG_ASSIGN_OR_RETURN(const ServerConfig config, ConfigFromFlags());
  LoggingOptions logging;
  logging.level = LogLevelName(config);
  VG_RETURN_IF_ERROR(InitLogging(logging));
  GetLogger(kServerLogger)->info("engine group rank {} of {} starting", rank.rank, rank.world_size);
  return RunEngineFollower(config, rank);
}

absl::Status Run(const std::vector<std::string>& command_line) {
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

  VG_ASSIGN_OR_RETURN(const std::string admin_token, AdminToken(config));
  std::error_code error;
  std::filesystem::create_directories(config.data_dir(), error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data_dir ", config.data_dir(), ": ", error.message()));
  }
  VG_ASSIGN_OR_RETURN(const auto schedules,
                      ScheduleRegistry::Open(config.schedule_registry_path()));
  VG_ASSIGN_OR_RETURN(auto service, VideoGenerationService::Create(config, admin_token));
  ScheduleRegistryService schedule_service(config, schedules.get(), admin_token);
  ScheduleSearchService search_service(admin_token);
  VG_ASSIGN_OR_RETURN(auto credentials, Credentials(config));
  const std::string& address = config.listen_address();
  const std::string host = address.substr(0, address.rfind(':'));

  MetricsRegistry registry;
  VG_ASSIGN_OR_RETURN(auto job_metrics, JobMetrics::Create(&registry));
  std::unique_ptr<MetricsHttpServer> metrics_server;
  if (config.metrics_port() != 0) {
    VG_ASSIGN_OR_RETURN(metrics_server,
                        MetricsHttpServer::Start(host, config.metrics_port(), &registry));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, credentials, &port);
  builder.SetMaxReceiveMessageSize(config.limits().max_request_bytes());
  builder.RegisterService(service.get());
  builder.RegisterService(&schedule_service);
  builder.RegisterService(&search_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  // Live now; the video service is ready once its models are loaded and warm.
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kVideoGenerationService, false);
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    VG_RETURN_IF_ERROR(WritePortFile(path, port));
  }
  log->info("videogen_server {} listening on {}:{} ({}), metrics {}", kVersion, host, port,
            config.has_tls() ? "TLS" : "plaintext",
            metrics_server ? absl::StrCat("on port ", metrics_server->port()) : "off");

  // Models load on their own thread, so that health and GetServerInfo answer meanwhile; a
  // shutdown signal that arrives during the load takes effect once it ends.
  std::vector<std::unique_ptr<EngineGroupHost>> groups;
  absl::Notification stopping;
  std::thread group_watch;  // Started by the loader once a group serves.
  std::unique_ptr<LoadedModels> models;
  absl::StatusOr<std::unique_ptr<JobManager>> manager;
  std::unique_ptr<SearchManager> searches;
  std::thread loader([&] {
    manager = [&]() -> absl::StatusOr<std::unique_ptr<JobManager>> {
      VG_ASSIGN_OR_RETURN(auto results, ResultStore::Open(config.data_dir() + "/results"));
      VG_ASSIGN_OR_RETURN(const engine::RuntimeInfo runtime, engine::GetRuntimeInfo());
      VG_ASSIGN_OR_RETURN(const EngineGroupPlan plan,
                          PlanEngineGroup(config, static_cast<int>(runtime.devices.size())));
      VG_ASSIGN_OR_RETURN(groups, StartEngineGroups(plan, command_line));
      VG_ASSIGN_OR_RETURN(LoadedModels loaded,
                          LoadModels(config, plan, groups, results.get(), schedules.get()));
      models = std::make_unique<LoadedModels>(std::move(loaded));
      return JobManager::Create(config, std::move(models->engines), std::move(results),
                                job_metrics.get());
    }();
    if (manager.ok()) {
      JobManager* const jobs = manager->get();
      absl::Status gauges = registry.AddCallbackGauge(
          "videogen_queued_jobs", "Jobs waiting in the queue.", [jobs] { return jobs->queued(); });
      gauges.Update(registry.AddCallbackGauge("videogen_running_jobs", "Jobs running now.",
                                              [jobs] { return jobs->running(); }));
      if (!gauges.ok()) log->error("metrics: {}", gauges.ToString());
      // Searches run here on the same models, only while no video job waits or runs, unless
      // videogen_search_worker processes run them.
      std::vector<SearchManager::Model> search_models;
      for (int i = 0; i < config.models_size(); ++i) {
        search_models.push_back({config.models(i).name(), models->pipelines[i].get(), {}});
      }
      SearchManager::Options search_options;
      // A group's models run jobs only in lockstep with its followers: searches then need
      // videogen_search_worker processes.
      search_options.run_worker = !config.external_search_workers() && groups.empty();
      if (!groups.empty() && !config.external_search_workers()) {
        log->warn(
            "schedule searches need videogen_search_worker processes on a multi-rank "
            "engine group; the server does not run them");
      }
      absl::StatusOr<std::unique_ptr<SearchManager>> search_manager = SearchManager::Create(
          config, std::move(search_models), schedules.get(),
          [jobs] { return jobs->queued() + jobs->running() > 0; }, search_options);
      if (search_manager.ok()) {
        searches = *std::move(search_manager);
        search_service.Attach(searches.get());
      } else {
        log->error("schedule searches unavailable: {}", search_manager.status().ToString());
      }
      service->Attach(jobs);
      health->SetServingStatus(kVideoGenerationService, true);
      if (!groups.empty()) {
        // A broken engine group takes the video service out of service.
        group_watch = std::thread([&] {
          while (!stopping.WaitForNotificationWithTimeout(absl::Seconds(1))) {
            if (!std::all_of(groups.begin(), groups.end(),
                             [](const auto& group) { return group->healthy(); })) {
              log->error(
                  "the engine group is broken (a rank was lost or a collective failed): "
                  "the video service is NOT_SERVING until the server restarts");
              health->SetServingStatus(kVideoGenerationService, false);
              return;
            }
          }
        });
      }
      log->info("ready: serving {} model(s)", config.models_size());
    } else {
      log->error("cannot start serving jobs: {}", manager.status().ToString());
      kill(getpid(), SIGTERM);
    }
  });

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  log->info("received {}, shutting down (grace {}s)", strsignal(signal_number),
            config.shutdown_grace_period().seconds());
  health->Shutdown();  // Every service reports NOT_SERVING from here on.
  loader.join();
  stopping.Notify();
  if (group_watch.joinable()) group_watch.join();
  const absl::Duration grace = absl::Seconds(config.shutdown_grace_period().seconds());
  if (searches != nullptr) searches->Stop();  // A running search keeps its checkpoint.
  if (manager.ok()) (*manager)->Drain(grace);
  // Calls still open (watchers of queued jobs) are cancelled.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
  // The metrics' callback gauges read the manager: stop serving them before it goes.
  if (metrics_server != nullptr) metrics_server->Stop();
  for (const auto& group : groups) {
    if (const absl::Status stopped = group->Shutdown(); !stopped.ok()) {
      log->warn("engine group shutdown: {}", stopped.ToString());
    }
  }
  if (!manager.ok()) return manager.status();
  log->info("stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace videogen::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("The videogen gRPC server. See --helpfull for flags.");
  const std::vector<std::string> command_line(argv, argv + argc);
  absl::ParseCommandLine(argc, argv);
  if (const auto rank = videogen::engine::parallel::RankEnvironmentFromEnv(); rank.ok()) {
    const absl::Status status = videogen::server::RunFollower(*rank);
    if (!status.ok()) {
      std::fprintf(stderr, "videogen_server rank %d: %s\n", rank->rank, status.ToString().c_str());
    }
    return status.ok() ? 0 : 1;
  }
  if (const absl::Status status = videogen::server::Run(command_line); !status.ok()) {
    std::fprintf(stderr, "videogen_server: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
