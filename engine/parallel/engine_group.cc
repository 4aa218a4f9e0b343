#include "engine/parallel/engine_group.h"

#include <cstring>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/common/torch_status.h"

namespace videogen::engine::parallel {
namespace {

using Group = ParallelContext::Group;

// The message the leader broadcasts before each job: int64 words.
enum Word {
  kKind,
  kModel,
  kHeight,
  kWidth,
  kFrames,
  kSteps,
  kSeed,
  kMaxSequenceLength,
  kGuidanceBits,   // The double's bit pattern.
  kScheduleSteps,  // 0: dense; else the schedule's levels follow in a second broadcast.
  kWords,
};
enum Kind : int64_t { kJob = 1, kShutdown = 2 };

int64_t Bits(double value) {
  int64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

double FromBits(int64_t bits) {
  double value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

at::TensorOptions Words(const ParallelContext& context) {
  return at::TensorOptions().dtype(at::kLong).device(context.device());
}

// Broadcasts `message` (leader) or receives it (followers; `message` is resized).
absl::Status Share(const ParallelContext& context, std::vector<int64_t>& message, int64_t size) {
  return RunTorch("sharing a job with the engine group", [&] {
    at::Tensor tensor = context.rank() == 0 ? at::tensor(message, Words(context))
                                            : at::empty({size}, Words(context));
    context.Broadcast(Group::kWorld, tensor, /*root=*/0);
    const at::Tensor host = tensor.cpu();
    message.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + size);
  });
}

// A group whose collective failed cannot be trusted with another job.
absl::Status Broken(const absl::Status& status) {
  return absl::UnavailableError(
      absl::StrCat("the engine group is broken and must be restarted: ", status.message()));
}

}  // namespace

GroupLeader::GroupLeader(std::vector<const wan::Pipeline*> pipelines,
                         const ParallelContext& context)
    : pipelines_(std::move(pipelines)), context_(context) {}

absl::StatusOr<at::Tensor> GroupLeader::GenerateLatents(
    int model, const wan::GenerateRequest& request, const wan::Pipeline::StepCallback& on_step,
    const wan::Pipeline::CancelCheck& cancelled,
    const wan::Pipeline::StageCallback& on_stage) const {
  if (!healthy()) return absl::UnavailableError("the engine group is broken and must be restarted");
  if (model < 0 || model >= static_cast<int>(pipelines_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("the engine group has no model ", model));
  }
  const wan::Pipeline& pipeline = *pipelines_[model];
  // Invalid requests never reach the followers.
  VG_RETURN_IF_ERROR(pipeline.Validate(request));
  std::vector<int64_t> message(kWords);
  message[kKind] = kJob;
  message[kModel] = model;
  message[kHeight] = request.height;
  message[kWidth] = request.width;
  message[kFrames] = request.frames;
  message[kSteps] = request.steps;
  message[kSeed] = static_cast<int64_t>(request.seed);
  message[kMaxSequenceLength] = request.max_sequence_length;
  message[kGuidanceBits] = Bits(request.guidance_scale);
  message[kScheduleSteps] = request.schedule.has_value() ? request.schedule->steps() : 0;
  absl::Status shared = Share(context_, message, kWords);
  if (shared.ok() && request.schedule.has_value()) {
    std::vector<int64_t> levels(request.schedule->levels().begin(),
                                request.schedule->levels().end());
    shared = Share(context_, levels, levels.size());
  }
  if (!shared.ok()) {
    healthy_ = false;
    return Broken(shared);
  }
  absl::StatusOr<at::Tensor> latents =
      pipeline.GenerateLatents(request, on_step, cancelled, on_stage);
  if (!latents.ok() && !absl::IsCancelled(latents.status())) {
    // The ranks may have stopped at different collectives: no later job can line up.
    healthy_ = false;
    return Broken(latents.status());
  }
  return latents;
}

absl::Status GroupLeader::Shutdown() const {
  if (!healthy()) return absl::UnavailableError("the engine group is broken");
  std::vector<int64_t> message(kWords, 0);
  message[kKind] = kShutdown;
  const absl::Status shared = Share(context_, message, kWords);
  if (!shared.ok()) {
    healthy_ = false;
    return Broken(shared);
  }
  return absl::OkStatus();
}

absl::Status ServeFollower(const std::vector<const wan::Pipeline*>& pipelines,
                           const ParallelContext& context) {
  if (context.rank() == 0) {
    return absl::InvalidArgumentError("rank 0 leads its engine group; it does not follow");
  }
  while (true) {
    std::vector<int64_t> message;
    if (const absl::Status shared = Share(context, message, kWords); !shared.ok()) {
      return Broken(shared);
    }
    if (message[kKind] == kShutdown) return absl::OkStatus();
    if (message[kKind] != kJob || message[kModel] < 0 ||
        message[kModel] >= static_cast<int64_t>(pipelines.size())) {
      return absl::InternalError(absl::StrCat("engine group message of kind ", message[kKind],
                                              " for model ", message[kModel],
                                              ": the leader and this rank disagree"));
    }
    wan::GenerateRequest request;  // The prompts stay with the leader: it shares embeddings.
    request.height = message[kHeight];
    request.width = message[kWidth];
    request.frames = message[kFrames];
    request.steps = static_cast<int>(message[kSteps]);
    request.seed = static_cast<uint64_t>(message[kSeed]);
    request.max_sequence_length = message[kMaxSequenceLength];
    request.guidance_scale = FromBits(message[kGuidanceBits]);
    if (message[kScheduleSteps] > 0) {
      std::vector<int64_t> levels;
      if (const absl::Status shared = Share(context, levels, message[kScheduleSteps]);
          !shared.ok()) {
        return Broken(shared);
      }
      VG_ASSIGN_OR_RETURN(request.schedule, astraea::BudgetSchedule::FromLevels(
                                                std::vector<int>(levels.begin(), levels.end())));
    }
    const absl::StatusOr<at::Tensor> latents = pipelines[message[kModel]]->GenerateLatents(
        request, /*on_step=*/nullptr, /*cancelled=*/nullptr);
    if (!latents.ok() && !absl::IsCancelled(latents.status())) return Broken(latents.status());
  }
}

}  // namespace videogen::engine::parallel
