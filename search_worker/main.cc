// videogen_search_worker: runs the schedule searches that a videogen_server with
// `external_search_workers: true` accepts, as a separate process sharing its data directory
// (server/search_manager.h): claims queued searches, evaluates candidates on this machine's GPUs
// (one model copy per device, in parallel) and publishes the results to the schedule registry.
//
//   videogen_search_worker --config=/etc/videogen/server.textproto [--devices=N]
//
// Several workers may share one data directory. On SIGTERM or SIGINT the running search stops
// after its current candidate run and is queued again with its checkpoint; exit 0.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "engine/common/logging.h"
#include "engine/common/runtime_info.h"
#include "engine/common/status_macros.h"
#include "engine/wan/pipeline.h"
#include "server/config.h"
#include "server/schedule_registry.h"
#include "server/search_manager.h"

ABSL_FLAG(std::string, config, "", "Path of the server config (text-format ServerConfig).");
ABSL_FLAG(int, devices, 0,
          "CUDA devices to evaluate on, a model copy on each (0: all; none found: the CPU).");

namespace videogen::search_worker {
namespace {

absl::Status Run() {
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  const std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty()) return absl::InvalidArgumentError("--config is required");
  VG_ASSIGN_OR_RETURN(const videogen::v1::ServerConfig config, server::LoadServerConfig(path));
  VG_RETURN_IF_ERROR(InitLogging({}));
  auto log = GetLogger(kServerLogger);
  VG_ASSIGN_OR_RETURN(const engine::RuntimeInfo runtime, engine::GetRuntimeInfo());
  std::vector<at::Device> devices;
  const int available = static_cast<int>(runtime.devices.size());
  const int wanted = absl::GetFlag(FLAGS_devices) == 0 ? available : absl::GetFlag(FLAGS_devices);
  if (wanted > available && available > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--devices=", wanted, " but this machine has ", available, " CUDA devices"));
  }
  for (int i = 0; i < wanted && runtime.cuda_available; ++i) {
    devices.emplace_back(at::kCUDA, static_cast<c10::DeviceIndex>(i));
  }
  if (devices.empty()) devices.emplace_back(at::kCPU);
  const c10::ScalarType dtype = devices[0].is_cuda() ? at::kBFloat16 : at::kFloat;

  VG_ASSIGN_OR_RETURN(const auto registry,
                      server::ScheduleRegistry::Open(config.schedule_registry_path()));
  std::vector<std::unique_ptr<engine::wan::Pipeline>> pipelines;
  std::vector<server::SearchManager::Model> models;
  for (const auto& entry : config.models()) {
    server::SearchManager::Model model{entry.name(), nullptr, {}};
    for (const at::Device& device : devices) {
      absl::StatusOr<std::unique_ptr<engine::wan::Pipeline>> pipeline =
          engine::wan::Pipeline::Load(entry.path(), dtype, device);
      if (!pipeline.ok()) {
        return absl::Status(pipeline.status().code(), absl::StrCat("model \"", entry.name(),
                                                                   "\" on ", device.str(), ": ",
                                                                   pipeline.status().message()));
      }
      if (model.pipeline == nullptr) {
        model.pipeline = pipeline->get();
      } else {
        model.replicas.push_back(pipeline->get());
      }
      pipelines.push_back(*std::move(pipeline));
    }
    models.push_back(std::move(model));
  }
  log->info("search worker: {} model(s) on {} device(s), data_dir {}", models.size(),
            devices.size(), config.data_dir());
  VG_ASSIGN_OR_RETURN(auto manager,
                      server::SearchManager::Create(config, std::move(models), registry.get(),
                                                    nullptr, server::SearchManager::Options()));
  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  log->info("received {}, stopping", strsignal(signal_number));
  manager->Stop();
  return absl::OkStatus();
}

}  // namespace
}  // namespace videogen::search_worker

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Runs the schedule searches of a videogen server's data_dir.");
  absl::ParseCommandLine(argc, argv);
  if (const absl::Status status = videogen::search_worker::Run(); !status.ok()) {
    std::fprintf(stderr, "videogen_search_worker: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
