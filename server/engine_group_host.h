// The server's engine group (ARCHITECTURE.md "Parallel runtime", engine/parallel/README.md).
// When the config's `engine_layout` spans more than one device, the server process is rank 0 of
// an engine group (device 0, or the CPU) and runs the gRPC service, the queue and the text
// encoder and VAE; ranks 1..N-1 are processes of the same server binary, started by the server
// itself with its own command line (they see VIDEOGEN_RANK in their environment and run
// RunEngineFollower() instead of serving), one per further device. A single command therefore
// starts the whole group, on a host as in a Kubernetes pod.
//
// One group per server: a host's devices split into several groups run one server each (with
// its own port and data directory), behind one Service.
#ifndef VIDEOGEN_SERVER_ENGINE_GROUP_HOST_H_
#define VIDEOGEN_SERVER_ENGINE_GROUP_HOST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "c10/core/Device.h"
#include "engine/parallel/engine_group.h"
#include "engine/parallel/launcher.h"
#include "engine/parallel/layout.h"
#include "engine/parallel/parallel_context.h"
#include "engine/wan/pipeline.h"
#include "proto/server_config.pb.h"

namespace videogen::server {

// How the server's ranks are laid out.
struct EngineGroupPlan {
  int ranks = 1;  // 1: no group, the single-process engine.
  engine::parallel::ParallelLayout layout;
  bool cuda = false;  // Ranks on CUDA devices 0..ranks-1; else CPU ranks (Gloo).

  // The device of rank `rank`.
  c10::Device DeviceOf(int rank) const;
};

// The group the config asks for on a host with `cuda_devices` GPUs: devices_per_group ranks
// (0: all GPUs, or one CPU rank without GPUs; on a host without GPUs, N > 1 CPU ranks), with
// the configured degrees or, where none is set, ChooseLayout's for guided jobs. Every configured
// model's transformer/config.json is read to check the Ulysses degree against its heads.
// INVALID_ARGUMENT naming the engine_layout field that does not fit; UNIMPLEMENTED for several
// groups per server.
absl::StatusOr<EngineGroupPlan> PlanEngineGroup(const videogen::v1::ServerConfig& config,
                                                int cuda_devices);

// Rank 0's side of the group.
class EngineGroupHost {
 public:
  // Starts ranks 1..plan.ranks-1 as `program` with `args` (the server's own command line) and
  // rendezvouses with them (they must reach RunEngineFollower within 5 minutes).
  static absl::StatusOr<std::unique_ptr<EngineGroupHost>> Start(const EngineGroupPlan& plan,
                                                                const std::string& program,
                                                                std::vector<std::string> args);
  // Stops the followers (Shutdown() if not called, else they are killed).
  ~EngineGroupHost();

  const engine::parallel::ParallelContext& context() const { return *context_; }

  // Once the models are loaded (each with context(), in config order, as the followers load
  // them): the leader that runs their jobs on the group.
  void SetModels(std::vector<const engine::wan::Pipeline*> pipelines);
  engine::parallel::GroupLeader* leader() const { return leader_.get(); }

  // False once a collective failed or a follower process ended.
  bool healthy();

  // Tells the followers to exit and waits for them. UNAVAILABLE if the group is broken (the
  // followers still running are killed).
  absl::Status Shutdown();

 private:
  EngineGroupHost() = default;

  std::unique_ptr<engine::parallel::RankProcesses> followers_;
  std::unique_ptr<engine::parallel::ParallelContext> context_;
  std::unique_ptr<engine::parallel::GroupLeader> leader_;
};

// A follower rank's whole life: joins the group described by `config` (from the environment
// the host started it with), loads the configured models without their text encoders, and
// serves the leader's jobs until it shuts the group down. Errors: the plan's, the rendezvous',
// the models', and UNAVAILABLE when the group breaks.
absl::Status RunEngineFollower(const videogen::v1::ServerConfig& config,
                               const engine::parallel::RankEnvironment& rank);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_ENGINE_GROUP_HOST_H_
