// Runs admitted video jobs on one loaded model: maps a job's spec to an engine request with the
// token schedule its budget asks for, reports the stages and denoising progress, and stores the
// encoded result in the results directory.
//
// Schedules come from the schedule registry (ScheduleRegistry::Lookup: the best searched
// schedule for the job's key within its budget, else one of the nearest key, else the fallback);
// the job keeps the schedule it started with even if the registry changes.
//
// Thread-safe: Run() and WarmUp() may be called concurrently; the pipeline is immutable.
#ifndef VIDEOGEN_SERVER_JOB_RUNNER_H_
#define VIDEOGEN_SERVER_JOB_RUNNER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/accel/policy.h"
#include "engine/astraea/schedule.h"
#include "engine/parallel/engine_group.h"
#include "engine/video/mp4_writer.h"
#include "engine/wan/pipeline.h"
#include "proto/schedule.pb.h"
#include "proto/video_job.pb.h"
#include "server/result_store.h"
#include "server/schedule_registry.h"

namespace videogen::server {

// How a job's transformer work is cut: the engine's schedule (unset for the dense model) and
// what the job record says about it, or a baseline acceleration policy (the spec's
// `acceleration`; then no schedule and an empty ref).
struct PlannedSchedule {
  std::optional<engine::astraea::BudgetSchedule> schedule;
  videogen::v1::ScheduleRef ref;
  std::shared_ptr<const engine::accel::Policy> acceleration;
};

// Where a runner's denoising runs when the server leads an engine group
// (server/engine_group_host.h): model `model` of `leader`'s models. Unset: on the pipeline alone.
struct EngineGroupSlot {
  const engine::parallel::GroupLeader* leader = nullptr;
  int model = 0;
};

class JobRunner {
 public:
  struct Callbacks {
    // As each stage starts (text encoding, denoising, VAE decoding, video encoding).
    std::function<void(videogen::v1::JobStage)> on_stage;
    // After every denoising step.
    std::function<void(const engine::wan::StepEvent&)> on_step;
    // Polled before every step and before decoding and encoding; true stops the job with
    // CANCELLED.
    std::function<bool()> cancelled;
  };

  // `model` is the configured model name (the schedule key's model id); `mp4` the encoder
  // settings of MP4 results (each job's fps replaces mp4.fps). `pipeline` (rank 0's, with a
  // group), `results`, `registry` and the group's leader must outlive the runner.
  JobRunner(std::string model, const engine::wan::Pipeline* pipeline, const ResultStore* results,
            const ScheduleRegistry* registry, engine::video::Mp4Options mp4 = {},
            EngineGroupSlot group = {});

  // The schedule for a normalised spec, from the registry. Its errors (INVALID_ARGUMENT if the
  // budget cannot be met, DATA_LOSS for a corrupted stored schedule). A spec with an
  // acceleration gets its policy instead: INVALID_ARGUMENT if the policy does not fit the
  // spec's steps or this model, or the runner drives an engine group.
  absl::StatusOr<PlannedSchedule> PlanSchedule(const videogen::v1::VideoJobSpec& spec) const;

  // Runs job `id` (a normalised spec) with `plan` and stores its result (ResultStore::PathOf).
  // Returns the output's description (expire_time unset). Errors: the pipeline's
  // (INVALID_ARGUMENT for a spec the model cannot run, RESOURCE_EXHAUSTED for device out of
  // memory, CANCELLED); UNAVAILABLE when the engine group is or becomes broken; the encoder's;
  // INTERNAL for storage failures. Nothing is left in the results directory on failure.
  absl::StatusOr<videogen::v1::VideoOutput> Run(const std::string& id,
                                                const videogen::v1::VideoJobSpec& spec,
                                                const PlannedSchedule& plan,
                                                const Callbacks& callbacks) const;

  // Runs a minimal generation (16×16 pixels, 1 frame, 1 step, dense) so that the first job does
  // not pay for lazy initialisation (kernels, allocator, cuDNN plans).
  absl::Status WarmUp() const;

  const std::string& model() const { return model_; }

 private:
  const std::string model_;
  const engine::wan::Pipeline* const pipeline_;
  const ResultStore* const results_;
  const ScheduleRegistry* const registry_;
  const engine::video::Mp4Options mp4_;
  const EngineGroupSlot group_;

  // The frames of `request`, on the group or the pipeline.
  absl::StatusOr<at::Tensor> Generate(const engine::wan::GenerateRequest& request,
                                      const engine::wan::Pipeline::StepCallback& on_step,
                                      const engine::wan::Pipeline::CancelCheck& cancelled,
                                      const engine::wan::Pipeline::StageCallback& on_stage) const;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_JOB_RUNNER_H_
