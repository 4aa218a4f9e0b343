#include "server/job_runner.h"

#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/accel/policies.h"
#include "engine/common/status_macros.h"
#include "engine/video/mp4_writer.h"

namespace videogen::server {
namespace {

using ::videogen::v1::JobStage;
using ::videogen::v1::OutputFormat;
using ::videogen::v1::VideoJobSpec;

engine::wan::GenerateRequest ToRequest(const VideoJobSpec& spec) {
  engine::wan::GenerateRequest request;
  request.prompt = spec.prompt();
  request.negative_prompt = spec.negative_prompt();
  request.height = spec.height();
  request.width = spec.width();
  request.frames = spec.frames();
  request.steps = spec.steps();
  request.guidance_scale = spec.guidance_scale();
  request.seed = spec.seed();
  return request;
}

JobStage ToJobStage(engine::wan::Stage stage) {
  switch (stage) {
    case engine::wan::Stage::kTextEncoding:
      return videogen::v1::JOB_STAGE_TEXT_ENCODING;
    case engine::wan::Stage::kDenoising:
      return videogen::v1::JOB_STAGE_DENOISING;
    case engine::wan::Stage::kVaeDecoding:
      return videogen::v1::JOB_STAGE_VAE_DECODING;
  }
  return videogen::v1::JOB_STAGE_UNSPECIFIED;
}

}  // namespace

JobRunner::JobRunner(std::string model, const engine::wan::Pipeline* pipeline,
                     const ResultStore* results, const ScheduleRegistry* registry,
                     engine::video::Mp4Options mp4, EngineGroupSlot group)
    : model_(std::move(model)),
      pipeline_(pipeline),
      results_(results),
      registry_(registry),
      mp4_(std::move(mp4)),
      group_(group) {}

absl::StatusOr<at::Tensor> JobRunner::Generate(
    const engine::wan::GenerateRequest& request, const engine::wan::Pipeline::StepCallback& on_step,
    const engine::wan::Pipeline::CancelCheck& cancelled,
    const engine::wan::Pipeline::StageCallback& on_stage) const {
  if (group_.leader == nullptr) return pipeline_->Generate(request, on_step, cancelled, on_stage);
  VG_ASSIGN_OR_RETURN(
      const at::Tensor latents,
      group_.leader->GenerateLatents(group_.model, request, on_step, cancelled, on_stage));
  return pipeline_->FinishFrames(latents, cancelled, on_stage);  // The VAE is rank 0's.
}

absl::StatusOr<PlannedSchedule> JobRunner::PlanSchedule(const VideoJobSpec& spec) const {
  if (!spec.acceleration().empty()) {
    if (group_.leader != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "acceleration ", spec.acceleration(),
          " runs on single-GPU engines only; this server's engines are multi-GPU groups"));
    }
    PlannedSchedule plan;
    VG_ASSIGN_OR_RETURN(plan.acceleration, engine::accel::ParsePolicy(spec.acceleration()));
    VG_RETURN_IF_ERROR(plan.acceleration->Start(pipeline_->transformer(), spec.steps()).status());
    return plan;
  }
  videogen::v1::ScheduleKey key;
  key.set_model_id(model_);
  key.set_height(spec.height());
  key.set_width(spec.width());
  key.set_frames(spec.frames());
  key.set_steps(spec.steps());
  VG_ASSIGN_OR_RETURN(const ScheduleRegistry::LookupResult found,
                      registry_->Lookup(key, spec.budget()));
  const videogen::v1::Schedule& schedule = found.schedule;
  PlannedSchedule plan;
  videogen::v1::ScheduleRef& ref = plan.ref;
  ref.set_schedule_id(schedule.id());
  ref.set_version(schedule.version());
  *ref.mutable_key() = schedule.key();
  ref.set_budget(schedule.budget());
  ref.set_searched(schedule.searched());
  ref.set_match(found.match);
  ref.set_predicted_speedup(schedule.predicted_speedup());
  ref.set_fitness_mse(schedule.provenance().fitness_mse());
  ref.set_psnr_db(schedule.provenance().psnr_db());
  VG_ASSIGN_OR_RETURN(engine::astraea::BudgetSchedule budget_schedule, ToBudgetSchedule(schedule));
  // A dense schedule runs the dense model itself (bit-identical, and without ASTRAEA's state).
  if (budget_schedule.MeanBudget() < 1.0) plan.schedule = std::move(budget_schedule);
  return plan;
}

absl::StatusOr<videogen::v1::VideoOutput> JobRunner::Run(const std::string& id,
                                                         const VideoJobSpec& spec,
                                                         const PlannedSchedule& plan,
                                                         const Callbacks& callbacks) const {
  engine::wan::GenerateRequest request = ToRequest(spec);
  request.schedule = plan.schedule;
  request.acceleration = plan.acceleration;
  const auto on_stage = [&](engine::wan::Stage stage) {
    if (callbacks.on_stage) callbacks.on_stage(ToJobStage(stage));
  };
  VG_ASSIGN_OR_RETURN(const at::Tensor frames,
                      Generate(request, callbacks.on_step, callbacks.cancelled, on_stage));
  if (callbacks.cancelled && callbacks.cancelled()) {
    return absl::CancelledError("cancelled before the video encoding");
  }
  if (callbacks.on_stage) callbacks.on_stage(videogen::v1::JOB_STAGE_VIDEO_ENCODING);
  const at::Tensor contiguous = frames.contiguous();
  const OutputFormat format = spec.output_format();
  if (format == videogen::v1::OUTPUT_FORMAT_RAW_FRAMES) {
    const std::string bytes(static_cast<const char*>(contiguous.data_ptr()), contiguous.numel());
    VG_RETURN_IF_ERROR(results_->WriteAtomically(id, format, bytes));
  } else {
    VG_ASSIGN_OR_RETURN(const std::string path, results_->PathOf(id, format));
    engine::video::RgbVideo video;
    video.data = contiguous.data_ptr<uint8_t>();
    video.frames = contiguous.size(0);
    video.height = contiguous.size(1);
    video.width = contiguous.size(2);
    engine::video::Mp4Options options = mp4_;
    options.fps = spec.fps();
    VG_RETURN_IF_ERROR(engine::video::WriteMp4(video, options, path));
  }
  return results_->Describe(id, format);
}

absl::Status JobRunner::WarmUp() const {
  VideoJobSpec spec;
  spec.set_prompt("warm-up");
  spec.set_height(16);
  spec.set_width(16);
  spec.set_frames(1);
  spec.set_steps(1);
  spec.set_guidance_scale(5.0f);
  return Generate(ToRequest(spec), nullptr, nullptr, nullptr).status();
}

}  // namespace videogen::server
