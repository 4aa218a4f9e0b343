#include "server/engine_group_host.h"

#include <cstdlib>
#include <numeric>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/common/runtime_info.h"
#include "engine/common/status_macros.h"
#include "engine/wan/transformer_config.h"

namespace videogen::server {
namespace {

using engine::parallel::ParallelLayout;

constexpr char kGroupVariable[] = "VIDEOGEN_ENGINE_GROUP";

engine::parallel::ParallelOptions OptionsFor(const EngineGroupPlan& plan, int group, int rank,
                                             int port) {
  engine::parallel::ParallelOptions options;
  options.rank = rank;
  options.layout = plan.layout;
  options.store_port = port;
  options.device = plan.DeviceOf(group, rank);
  return options;
}

}  // namespace

c10::ScalarType EngineGroupPlan::Dtype() const { return cuda ? at::kBFloat16 : at::kFloat; }

c10::Device EngineGroupPlan::DeviceOf(int group, int rank) const {
  return cuda ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(group * ranks + rank))
              : c10::kCPU;
}

absl::StatusOr<EngineGroupPlan> PlanEngineGroup(const videogen::v1::ServerConfig& config,
                                                int cuda_devices) {
  const videogen::v1::EngineLayout& layout = config.engine_layout();
  EngineGroupPlan plan;
  plan.cuda = cuda_devices > 0;
  int ranks = layout.devices_per_group();
  if (ranks == 0) ranks = plan.cuda ? cuda_devices : 1;
  if (plan.cuda && (ranks > cuda_devices || cuda_devices % ranks != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("config field engine_layout.devices_per_group ",
                                                   ranks, " must divide the host's ", cuda_devices,
                                                   " GPUs"));
  }
  plan.groups = plan.cuda ? cuda_devices / ranks : 1;
  plan.ranks = ranks;
  const bool configured =
      layout.cfg_parallel_degree() > 0 || layout.ulysses_degree() > 0 || layout.ring_degree() > 0;
  if (ranks == 1 && !configured) return plan;  // The single-process engine.
  // Every model must fit the layout; an automatic one uses heads all models share.
  std::vector<std::pair<std::string, int64_t>> heads;
  int64_t common_heads = 0;
  for (const auto& model : config.models()) {
    const absl::StatusOr<engine::wan::TransformerConfig> transformer =
        engine::wan::LoadTransformerConfig(model.path() + "/transformer/config.json");
    if (!transformer.ok()) {
      return absl::Status(
          transformer.status().code(),
          absl::StrCat("model \"", model.name(), "\": ", transformer.status().message()));
    }
    heads.emplace_back(model.name(), transformer->num_heads);
    common_heads = std::gcd(common_heads, transformer->num_heads);
  }
  if (configured) {
    plan.layout =
        ParallelLayout{std::max(1, layout.cfg_parallel_degree()),
                       std::max(1, layout.ulysses_degree()), std::max(1, layout.ring_degree())};
    if (plan.layout.world_size() != ranks) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config field engine_layout: cfg_parallel_degree x ulysses_degree x ring_degree = ",
          plan.layout.world_size(), " must equal the group's ", ranks, " devices"));
    }
  } else {
    VG_ASSIGN_OR_RETURN(plan.layout, engine::parallel::ChooseLayout(
                                         ranks, std::max<int64_t>(common_heads, 1), true));
  }
  for (const auto& [name, count] : heads) {
    if (const absl::Status valid = engine::parallel::ValidateLayout(plan.layout, count, true);
        !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field engine_layout, model \"", name, "\": ", valid.message()));
    }
  }
  return plan;
}

absl::StatusOr<std::unique_ptr<EngineGroupHost>> EngineGroupHost::Start(
    const EngineGroupPlan& plan, int group, const std::string& program,
    std::vector<std::string> args) {
  VG_ASSIGN_OR_RETURN(const int port, engine::parallel::PickFreePort());
  engine::parallel::LaunchOptions launch;
  launch.program = program;
  launch.args = std::move(args);
  launch.world_size = plan.ranks;
  launch.environment = {absl::StrCat(kGroupVariable, "=", group)};
  launch.store_port = port;
  launch.timeout = absl::InfiniteDuration();  // They serve as long as the server.
  launch.grace = absl::Seconds(30);
  std::unique_ptr<EngineGroupHost> host(new EngineGroupHost());
  VG_ASSIGN_OR_RETURN(host->followers_,
                      engine::parallel::RankProcesses::Start(launch, /*first_rank=*/1));
  VG_ASSIGN_OR_RETURN(host->context_,
                      engine::parallel::ParallelContext::Create(OptionsFor(plan, group, 0, port)));
  return host;
}

EngineGroupHost::~EngineGroupHost() = default;  // RankProcesses kills whatever still runs.

void EngineGroupHost::SetModels(std::vector<const engine::wan::Pipeline*> pipelines) {
  leader_ = std::make_unique<engine::parallel::GroupLeader>(std::move(pipelines), *context_);
}

bool EngineGroupHost::healthy() {
  return followers_->AllRunning() && (leader_ == nullptr || leader_->healthy());
}

absl::Status EngineGroupHost::Shutdown() {
  if (leader_ == nullptr) SetModels({});  // The models did not load; the followers may have.
  if (!healthy()) {
    followers_.reset();  // Kills them: they may be waiting for a collective that never comes.
    return absl::UnavailableError("the engine group was broken; its followers were killed");
  }
  VG_RETURN_IF_ERROR(leader_->Shutdown());
  // They exit as soon as they read the message; one that does not is killed.
  for (const engine::parallel::RankExit& exit : followers_->Wait(absl::Seconds(30))) {
    if (!exit.ok()) {
      return absl::InternalError(absl::StrCat("an engine group follower exited with code ",
                                              exit.exit_code, ", signal ", exit.signal));
    }
  }
  return absl::OkStatus();
}

absl::Status RunEngineFollower(const videogen::v1::ServerConfig& config,
                               const engine::parallel::RankEnvironment& rank) {
  VG_ASSIGN_OR_RETURN(const engine::RuntimeInfo runtime, engine::GetRuntimeInfo());
  VG_ASSIGN_OR_RETURN(const EngineGroupPlan plan,
                      PlanEngineGroup(config, static_cast<int>(runtime.devices.size())));
  const char* group_text = std::getenv(kGroupVariable);
  int group = -1;
  if (group_text == nullptr || !absl::SimpleAtoi(group_text, &group) || group < 0 ||
      group >= plan.groups || plan.ranks != rank.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank.rank, " was started for group ",
                                                   group_text != nullptr ? group_text : "?", " of ",
                                                   rank.world_size, " ranks; the config makes ",
                                                   plan.groups, " group(s) of ", plan.ranks));
  }
  VG_ASSIGN_OR_RETURN(const auto context, engine::parallel::ParallelContext::Create(
                                              OptionsFor(plan, group, rank.rank, rank.store_port)));
  const c10::Device device = plan.DeviceOf(group, rank.rank);
  std::vector<std::unique_ptr<engine::wan::Pipeline>> pipelines;
  std::vector<const engine::wan::Pipeline*> models;
  for (const auto& model : config.models()) {
    absl::StatusOr<std::unique_ptr<engine::wan::Pipeline>> pipeline =
        engine::wan::Pipeline::Load(model.path(), plan.Dtype(), device, context.get());
    if (!pipeline.ok()) {
      return absl::Status(
          pipeline.status().code(),
          absl::StrCat("model \"", model.name(), "\": ", pipeline.status().message()));
    }
    models.push_back(pipeline->get());
    pipelines.push_back(*std::move(pipeline));
  }
  return engine::parallel::ServeFollower(models, *context);
}

}  // namespace videogen::server
