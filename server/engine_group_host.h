// The server's engine groups (ARCHITECTURE.md "Parallel runtime", engine/parallel/README.md).
// The config's `engine_layout` splits the host's GPUs into groups of devices_per_group; each
// group runs one job at a time, and the groups run jobs side by side (the queue hands the next
// job to the first free group). The server process is rank 0 of every group (on the group's
// first device) and runs the gRPC service, the queue, the text encoders and the VAEs; ranks
// 1..N-1 of each group are processes of the same server binary, started by the server itself
// with its own command line (they see VIDEOGEN_RANK and VIDEOGEN_ENGINE_GROUP in their
// environment and run RunEngineFollower() instead of serving), one per further device. A single
// command therefore starts every group, on a host as in a Kubernetes pod.
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

// How the server's engines are laid out.
struct EngineGroupPlan {
  int groups = 1;
  int ranks = 1;  // Per group; 1: single-process engines (no follower processes).
  engine::parallel::ParallelLayout layout;
  bool cuda = false;  // Group g's ranks on CUDA devices g·ranks...; else CPU ranks (Gloo).

  // The device of rank `rank` of group `group`.
  c10::Device DeviceOf(int group, int rank) const;
  // The dtype the models run in on the plan's devices: bfloat16 on CUDA, float32 on the CPU.
  c10::ScalarType Dtype() const;
};

// The groups the config asks for on a host with `cuda_devices` GPUs: groups of
// devices_per_group ranks (0: all GPUs in one group, or one CPU rank without GPUs; on a host
// without GPUs, one group of N CPU ranks), with the configured degrees or, where none is set,
// ChooseLayout's for guided jobs. With more than one rank per group every configured model's
// transformer/config.json is read to check the Ulysses degree against its heads.
// INVALID_ARGUMENT naming the engine_layout field that does not fit.
absl::StatusOr<EngineGroupPlan> PlanEngineGroup(const videogen::v1::ServerConfig& config,
                                                int cuda_devices);

// Rank 0's side of the group.
class EngineGroupHost {
 public:
  // Starts ranks 1..plan.ranks-1 of group `group` as `program` with `args` (the server's own
  // command line) and rendezvouses with them (they must reach RunEngineFollower within 5
  // minutes).
  static absl::StatusOr<std::unique_ptr<EngineGroupHost>> Start(const EngineGroupPlan& plan,
                                                                int group,
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
