#include "server/job_manager.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/logging.h"
#include "engine/common/runtime_info.h"
#include "engine/common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/job_spec.h"
#include "server/random_id.h"

namespace videogen::server {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::videogen::v1::JobEvent;
using ::videogen::v1::JobStage;
using ::videogen::v1::JobState;
using ::videogen::v1::VideoJob;
using ::videogen::v1::VideoJobSpec;

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

google::protobuf::Duration ToProto(absl::Duration duration) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(duration));
}

absl::Time FromProto(const google::protobuf::Timestamp& time) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(time));
}

// The seed of a spec that has none: random, or, with an idempotency key, a stable hash of the key
// (64-bit FNV-1a), so that a retry normalises to the same spec and is deduplicated.
uint64_t DefaultSeed(const VideoJobSpec& spec) {
  if (spec.idempotency_key().empty()) {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return generator();
  }
  uint64_t hash = 14695981039346656037ull;
  for (const unsigned char c : spec.idempotency_key()) {
    hash = (hash ^ c) * 1099511628211ull;
  }
  return hash;
}

google::protobuf::Duration* TimingOf(videogen::v1::StageTimings* timings, JobStage stage) {
  switch (stage) {
    case videogen::v1::JOB_STAGE_TEXT_ENCODING:
      return timings->mutable_text_encoding();
    case videogen::v1::JOB_STAGE_DENOISING:
      return timings->mutable_denoising();
    case videogen::v1::JOB_STAGE_VAE_DECODING:
      return timings->mutable_vae_decoding();
    case videogen::v1::JOB_STAGE_VIDEO_ENCODING:
      return timings->mutable_video_encoding();
    default:
      return nullptr;
  }
}

double MegapixelFrames(const VideoJobSpec& spec) {
  return static_cast<double>(spec.frames()) * spec.height() * spec.width() / 1e6;
}

JobEvent EventFor(const std::string& id) {
  JobEvent event;
  event.set_job_id(id);
  *event.mutable_event_time() = ToProto(absl::Now());
  return event;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobManager>> JobManager::Create(
    const videogen::v1::ServerConfig& config, std::vector<std::unique_ptr<JobRunner>> runners,
    std::unique_ptr<ResultStore> results, JobMetrics* metrics) {
  std::vector<Engine> engines(1);
  engines[0].runners = std::move(runners);
  return Create(config, std::move(engines), std::move(results), metrics);
}

absl::StatusOr<std::unique_ptr<JobManager>> JobManager::Create(
    const videogen::v1::ServerConfig& config, std::vector<Engine> engines,
    std::unique_ptr<ResultStore> results, JobMetrics* metrics) {
  if (engines.empty()) return absl::FailedPreconditionError("no engine to run jobs on");
  for (size_t i = 0; i < engines.size(); ++i) {
    for (const auto& model : config.models()) {
      const auto& runners = engines[i].runners;
      const bool found = std::any_of(runners.begin(), runners.end(), [&](const auto& runner) {
        return runner->model() == model.name();
      });
      if (!found) {
        return absl::FailedPreconditionError(absl::StrCat(
            "model \"", model.name(), "\" is configured but not loaded on engine ", i));
      }
    }
  }
  VG_ASSIGN_OR_RETURN(auto store, JobStore::Open({config.data_dir() + "/jobs.db"}));
  VG_ASSIGN_OR_RETURN(auto queue, JobQueue::Create({config.max_queued_jobs()}));
  VG_ASSIGN_OR_RETURN(const std::vector<VideoJob> recovered, store->Recover(kMaxAttempts));

  std::unique_ptr<JobManager> manager(new JobManager(
      config, std::move(store), std::move(queue), std::move(results), std::move(engines), metrics));
  auto log = GetLogger(kServerLogger);
  {
    absl::MutexLock lock(&manager->mu_);
    for (const VideoJob& job : recovered) {
      if (absl::Status pushed = manager->queue_->Push(job.id(), job.spec().priority());
          !pushed.ok()) {
        VideoJob failed = job;
        failed.set_state(videogen::v1::JOB_STATE_FAILED);
        failed.set_error_code(static_cast<int>(absl::StatusCode::kResourceExhausted));
        failed.set_error_message(
            absl::StrCat("the server restarted with more queued jobs than max_queued_jobs (",
                         config.max_queued_jobs(), ")"));
        *failed.mutable_finish_time() = ToProto(absl::Now());
        manager->PersistLocked(failed);
        continue;
      }
      manager->live_[job.id()].record = job;
    }
    if (!recovered.empty()) log->info("recovered {} queued job(s)", manager->live_.size());
  }
  for (auto& engine : manager->engines_) {
    engine->thread = std::thread([m = manager.get(), e = engine.get()] { m->EngineLoop(*e); });
  }
  manager->expiry_thread_ = std::thread([m = manager.get()] { m->ExpiryLoop(); });
  return manager;
}

JobManager::JobManager(const videogen::v1::ServerConfig& config, std::unique_ptr<JobStore> store,
                       std::unique_ptr<JobQueue> queue, std::unique_ptr<ResultStore> results,
                       std::vector<Engine> engines, JobMetrics* metrics)
    : config_(config),
      store_(std::move(store)),
      queue_(std::move(queue)),
      results_(std::move(results)),
      metrics_(metrics) {
  for (Engine& engine : engines) {
    auto state = std::make_unique<EngineState>();
    state->device = engine.device;
    for (auto& runner : engine.runners) {
      const std::string model = runner->model();
      state->runners[model] = std::move(runner);
    }
    engines_.push_back(std::move(state));
  }
}

JobManager::~JobManager() { Drain(absl::ZeroDuration()); }

void JobManager::PersistLocked(const VideoJob& record) {
  if (const absl::Status status = store_->Update(record); !status.ok()) {
    GetLogger(kServerLogger)
        ->error("job {}: cannot store its record: {}", record.id(), status.ToString());
  }
}

absl::StatusOr<JobManager::Submitted> JobManager::Submit(const VideoJobSpec& spec,
                                                         std::shared_ptr<JobEventSink> sink) {
  absl::StatusOr<Submitted> submitted = [&]() -> absl::StatusOr<Submitted> {
    VG_ASSIGN_OR_RETURN(const VideoJobSpec normalized,
                        NormalizeJobSpec(spec, config_, DefaultSeed(spec)));
    // A budget the step count cannot meet is refused at admission, not when the job starts.
    // Every engine has the same models and registry: the first one plans for all.
    VG_RETURN_IF_ERROR(
        engines_.front()->runners.at(normalized.model())->PlanSchedule(normalized).status());
    VideoJob job;
    job.set_id(RandomHexId());
    *job.mutable_spec() = normalized;
    job.set_state(videogen::v1::JOB_STATE_QUEUED);
    job.set_steps_total(normalized.steps());
    *job.mutable_create_time() = ToProto(absl::Now());

    absl::MutexLock lock(&mu_);
    if (!admitting_) return absl::UnavailableError("the server is shutting down");
    Submitted result;
    VG_ASSIGN_OR_RETURN(result.job, store_->Create(job, &result.deduplicated));
    if (result.deduplicated) {
      if (const auto it = live_.find(result.job.id()); it != live_.end()) {
        result.job = CurrentLocked(it->second);
        if (sink != nullptr) it->second.sinks.push_back(std::move(sink));
      }
      return result;
    }
    if (absl::Status pushed = queue_->Push(job.id(), normalized.priority()); !pushed.ok()) {
      if (const absl::Status deleted = store_->Delete(job.id()); !deleted.ok()) {
        GetLogger(kServerLogger)
            ->error("job {}: cannot delete the refused job: {}", job.id(), deleted.ToString());
      }
      if (pushed.code() == absl::StatusCode::kResourceExhausted) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the job queue is full (", config_.max_queued_jobs(), " jobs); retry later"));
      }
      return pushed;
    }
    Live& live = live_[job.id()];
    live.record = job;
    if (sink != nullptr) live.sinks.push_back(std::move(sink));
    result.job = CurrentLocked(live);
    live.reported_position = result.job.queue_position();
    PublishPositionsLocked();
    GetLogger(kServerLogger)
        ->info("job {} queued: model {}, {}x{}x{}, {} steps, budget {}", job.id(),
               normalized.model(), normalized.width(), normalized.height(), normalized.frames(),
               normalized.steps(), normalized.budget());
    GetLogger(kServerLogger)->debug("job {} prompt: {}", job.id(), normalized.prompt());
    return result;
  }();
  if (metrics_ != nullptr) metrics_->Submitted(submitted.status().code());
  return submitted;
}

VideoJob JobManager::CurrentLocked(const Live& live) const {
  VideoJob job = live.record;
  if (job.state() == videogen::v1::JOB_STATE_QUEUED) {
    const absl::StatusOr<int> position = queue_->Position(job.id());
    job.set_queue_position(position.ok() ? *position : 0);
  }
  return job;
}

absl::StatusOr<VideoJob> JobManager::Get(const std::string& id) const {
  {
    absl::MutexLock lock(&mu_);
    if (const auto it = live_.find(id); it != live_.end()) return CurrentLocked(it->second);
  }
  return store_->Get(id);
}

absl::StatusOr<VideoJob> JobManager::Cancel(const std::string& id, CancelCause cause) {
  absl::MutexLock lock(&mu_);
  const auto it = live_.find(id);
  if (it == live_.end()) {
    VG_ASSIGN_OR_RETURN(VideoJob job, store_->Get(id));
    if (job.state() == videogen::v1::JOB_STATE_CANCELLED) return job;
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " already finished (", JobState_Name(job.state()), ")"));
  }
  if (cause == CancelCause::kClientGone && !admitting_) return CurrentLocked(it->second);
  const absl::StatusCode code = cause == CancelCause::kDeadline
                                    ? absl::StatusCode::kDeadlineExceeded
                                    : absl::StatusCode::kCancelled;
  VideoJob& record = it->second.record;
  if (record.state() == videogen::v1::JOB_STATE_RUNNING) {
    for (auto& engine : engines_) {
      if (engine->running.id != id) continue;
      engine->running.cancel_reason = code;
      engine->cancel_requested = true;
    }
    return record;
  }
  // Queued (possibly just popped by the engine loop, which then finds it gone).
  queue_->Remove(id).IgnoreError();
  VideoJob cancelled = record;
  cancelled.set_state(videogen::v1::JOB_STATE_CANCELLED);
  cancelled.set_queue_position(0);
  cancelled.set_error_code(static_cast<int>(code));
  cancelled.set_error_message(
      cause == CancelCause::kDeadline     ? "the client's deadline passed while the job was queued"
      : cause == CancelCause::kClientGone ? "the client went away while the job was queued"
                                          : "cancelled while queued");
  *cancelled.mutable_finish_time() = ToProto(absl::Now());
  FinishLocked(cancelled);
  PublishPositionsLocked();
  return cancelled;
}

absl::StatusOr<JobStore::ListResult> JobManager::List(const JobStore::ListOptions& options) const {
  VG_ASSIGN_OR_RETURN(JobStore::ListResult result, store_->List(options));
  absl::MutexLock lock(&mu_);
  for (VideoJob& job : result.jobs) {
    if (const auto it = live_.find(job.id()); it != live_.end()) job = CurrentLocked(it->second);
  }
  return result;
}

absl::StatusOr<VideoJob> JobManager::Watch(const std::string& id,
                                           std::shared_ptr<JobEventSink> sink) {
  absl::MutexLock lock(&mu_);
  const auto it = live_.find(id);
  if (it == live_.end()) return store_->Get(id);  // Finished (or unknown): nothing will follow.
  it->second.sinks.push_back(std::move(sink));
  return CurrentLocked(it->second);
}

void JobManager::Unwatch(const std::string& id, const JobEventSink* sink) {
  absl::MutexLock lock(&mu_);
  const auto it = live_.find(id);
  if (it == live_.end()) return;
  auto& sinks = it->second.sinks;
  sinks.erase(
      std::remove_if(sinks.begin(), sinks.end(), [&](const auto& s) { return s.get() == sink; }),
      sinks.end());
}

absl::StatusOr<JobManager::ResultChunk> JobManager::ReadResult(const std::string& id,
                                                               int64_t offset,
                                                               int64_t max_bytes) const {
  VG_ASSIGN_OR_RETURN(const VideoJob job, Get(id));
  if (job.state() != videogen::v1::JOB_STATE_SUCCEEDED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " is ", JobState_Name(job.state()), "; only a SUCCEEDED job has a video"));
  }
  ResultChunk chunk;
  chunk.output = job.output();
  VG_ASSIGN_OR_RETURN(chunk.data, results_->Read(id, job.output().format(), offset, max_bytes));
  return chunk;
}

void JobManager::PublishLocked(Live& live, JobEvent event) {
  for (const auto& sink : live.sinks) sink->OnEvent(event);
}

void JobManager::PublishPositionsLocked() {
  for (auto& [id, live] : live_) {
    if (live.record.state() != videogen::v1::JOB_STATE_QUEUED) continue;
    const absl::StatusOr<int> position = queue_->Position(id);
    if (!position.ok() || *position == live.reported_position) continue;
    live.reported_position = *position;
    if (live.sinks.empty()) continue;
    JobEvent event = EventFor(id);
    event.mutable_queued()->set_position(*position);
    PublishLocked(live, std::move(event));
  }
}

void JobManager::FinishLocked(VideoJob record) {
  record.set_stage(videogen::v1::JOB_STAGE_UNSPECIFIED);
  PersistLocked(record);
  const auto it = live_.find(record.id());
  if (it != live_.end()) {
    JobEvent event = EventFor(record.id());
    *event.mutable_result() = record;
    PublishLocked(it->second, std::move(event));
    live_.erase(it);
  }
  if (metrics_ != nullptr) metrics_->Finished(record);
  GetLogger(kServerLogger)
      ->info("job {} {}{}", record.id(), JobState_Name(record.state()),
             record.error_message().empty() ? "" : ": " + record.error_message());
}

int JobManager::running() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(std::count_if(engines_.begin(), engines_.end(),
                                        [](const auto& e) { return !e->running.id.empty(); }));
}

void JobManager::EngineLoop(EngineState& engine_state) {
  while (const std::optional<std::string> id = queue_->Pop()) RunJob(engine_state, *id);
}

void JobManager::RunJob(EngineState& engine_state, const std::string& id) {
  PlannedSchedule plan;
  VideoJobSpec spec;
  const JobRunner* runner = nullptr;
  {
    absl::MutexLock lock(&mu_);
    const auto it = live_.find(id);
    if (it == live_.end() || it->second.record.state() != videogen::v1::JOB_STATE_QUEUED) return;
    VideoJob& record = it->second.record;
    spec = record.spec();
    const auto runner_it = engine_state.runners.find(spec.model());
    absl::StatusOr<PlannedSchedule> planned =
        runner_it == engine_state.runners.end()
            ? absl::FailedPreconditionError(
                  absl::StrCat("model \"", spec.model(), "\" is not loaded on this server"))
            : runner_it->second->PlanSchedule(spec);
    const absl::Time now = absl::Now();
    if (!planned.ok()) {
      VideoJob failed = record;
      failed.set_state(videogen::v1::JOB_STATE_FAILED);
      failed.set_queue_position(0);
      failed.set_error_code(static_cast<int>(planned.status().code()));
      failed.set_error_message(std::string(planned.status().message()));
      *failed.mutable_finish_time() = ToProto(now);
      FinishLocked(failed);
      PublishPositionsLocked();
      return;
    }
    runner = runner_it->second.get();
    plan = *std::move(planned);
    record.set_state(videogen::v1::JOB_STATE_RUNNING);
    record.set_queue_position(0);
    *record.mutable_start_time() = ToProto(now);
    if (plan.acceleration == nullptr) {
      *record.mutable_schedule() = plan.ref;
    } else {
      record.clear_schedule();  // An acceleration policy runs without a schedule.
    }
    record.set_steps_done(0);
    record.set_tokens_computed(0);
    record.set_dense_tokens(0);
    record.clear_stage_timings();
    *record.mutable_stage_timings()->mutable_queued() =
        ToProto(now - FromProto(record.create_time()));
    if (const absl::Status started = store_->MarkStarted(id); !started.ok()) {
      GetLogger(kServerLogger)->error("job {}: {}", id, started.ToString());
    }
    PersistLocked(record);
    engine_state.running = Running{};
    engine_state.running.id = id;
    engine_state.running.stage_start = now;
    engine_state.cancel_requested = false;
    PublishPositionsLocked();
  }
  GetLogger(kServerLogger)->info("job {} started", id);
  engine::ResetPeakDeviceMemory(engine_state.device);

  JobRunner::Callbacks callbacks;
  callbacks.on_stage = [this, &engine_state](JobStage stage) { OnStage(engine_state, stage); };
  callbacks.on_step = [this, &engine_state](const engine::wan::StepEvent& event) {
    OnStep(engine_state, event);
  };
  callbacks.cancelled = [this, &engine_state] {
    return engine_state.cancel_requested || interrupt_requested_;
  };
  absl::StatusOr<videogen::v1::VideoOutput> output = runner->Run(id, spec, plan, callbacks);

  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  CloseStageLocked(engine_state, now);
  Live& live = live_.at(id);
  VideoJob record = live.record;
  const absl::StatusCode cancel_reason = engine_state.running.cancel_reason;
  engine_state.running = Running{};
  record.set_peak_device_memory_bytes(engine::PeakDeviceMemoryBytes(engine_state.device));
  if (!output.ok() && interrupt_requested_ && !engine_state.cancel_requested) {
    // Draining: back to the queue for the next start.
    record.set_state(videogen::v1::JOB_STATE_QUEUED);
    record.set_stage(videogen::v1::JOB_STAGE_UNSPECIFIED);
    record.clear_start_time();
    record.clear_schedule();
    PersistLocked(record);
    live_.erase(id);
    GetLogger(kServerLogger)->info("job {} interrupted by shutdown; re-queued", id);
    return;
  }
  *record.mutable_finish_time() = ToProto(now);
  *record.mutable_stage_timings()->mutable_total() = ToProto(now - FromProto(record.start_time()));
  if (output.ok()) {
    record.set_state(videogen::v1::JOB_STATE_SUCCEEDED);
    *record.mutable_output() = *output;
    *record.mutable_output()->mutable_expire_time() =
        ToProto(now + absl::Seconds(config_.result_retention().seconds()));
    const auto& timings = record.stage_timings();
    const double tail_seconds = TimeUtil::DurationToNanoseconds(timings.vae_decoding()) / 1e9 +
                                TimeUtil::DurationToNanoseconds(timings.video_encoding()) / 1e9;
    tail_seconds_per_megapixel_frame_ = tail_seconds / MegapixelFrames(spec);
  } else if (output.status().code() == absl::StatusCode::kCancelled) {
    record.set_state(videogen::v1::JOB_STATE_CANCELLED);
    const absl::StatusCode reason =
        cancel_reason == absl::StatusCode::kOk ? absl::StatusCode::kCancelled : cancel_reason;
    record.set_error_code(static_cast<int>(reason));
    record.set_error_message(reason == absl::StatusCode::kDeadlineExceeded
                                 ? "the client's deadline passed while the job ran"
                                 : std::string(output.status().message()));
  } else {
    record.set_state(videogen::v1::JOB_STATE_FAILED);
    record.set_error_code(static_cast<int>(output.status().code()));
    record.set_error_message(std::string(output.status().message()));
  }
  FinishLocked(record);
}

void JobManager::CloseStageLocked(EngineState& engine_state, absl::Time now) {
  const Running& running = engine_state.running;
  const auto it = live_.find(running.id);
  if (it == live_.end()) return;
  if (google::protobuf::Duration* timing =
          TimingOf(it->second.record.mutable_stage_timings(), running.stage)) {
    *timing = ToProto(now - running.stage_start);
  }
}

void JobManager::OnStage(EngineState& engine_state, JobStage stage) {
  absl::MutexLock lock(&mu_);
  Running& running = engine_state.running;
  const absl::Time now = absl::Now();
  Live& live = live_.at(running.id);
  CloseStageLocked(engine_state, now);
  JobEvent event = EventFor(running.id);
  auto* changed = event.mutable_stage_changed();
  changed->set_stage(stage);
  changed->set_previous_stage(running.stage);
  if (running.stage != videogen::v1::JOB_STAGE_UNSPECIFIED) {
    *changed->mutable_previous_stage_duration() = ToProto(now - running.stage_start);
  }
  running.stage = stage;
  running.stage_start = now;
  if (stage == videogen::v1::JOB_STAGE_DENOISING) running.denoise_start = now;
  live.record.set_stage(stage);
  PersistLocked(live.record);
  PublishLocked(live, std::move(event));
}

void JobManager::OnStep(EngineState& engine_state, const engine::wan::StepEvent& step) {
  absl::MutexLock lock(&mu_);
  const Running& running = engine_state.running;
  Live& live = live_.at(running.id);
  VideoJob& record = live.record;
  record.set_steps_done(step.step);
  record.set_tokens_computed(record.tokens_computed() + step.tokens_computed);
  record.set_dense_tokens(record.dense_tokens() + step.dense_tokens);
  JobEvent event = EventFor(running.id);
  auto* progress = event.mutable_progress();
  progress->set_step(step.step);
  progress->set_total_steps(step.total_steps);
  progress->set_tokens_computed(record.tokens_computed());
  progress->set_dense_tokens(record.dense_tokens());
  const absl::Duration per_step = (absl::Now() - running.denoise_start) / step.step;
  const absl::Duration eta =
      per_step * (step.total_steps - step.step) +
      absl::Seconds(tail_seconds_per_megapixel_frame_ * MegapixelFrames(record.spec()));
  *progress->mutable_eta() = ToProto(eta);
  PublishLocked(live, std::move(event));
}

void JobManager::Drain(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (drained_) return;
    drained_ = true;
    admitting_ = false;
    stop_expiry_ = true;
  }
  queue_->Close();
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::all_of(engines_.begin(), engines_.end(),
                         [](const auto& e) { return e->running.id.empty(); });
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&idle), grace)) {
      for (const auto& engine : engines_) {
        if (engine->running.id.empty()) continue;
        GetLogger(kServerLogger)
            ->warn("job {} still running after the grace period; interrupting it",
                   engine->running.id);
      }
    }
    // Also stops a job an engine loop popped just before the queue closed.
    interrupt_requested_ = true;
  }
  for (auto& engine : engines_) {
    if (engine->thread.joinable()) engine->thread.join();
  }
  if (expiry_thread_.joinable()) expiry_thread_.join();
}

void JobManager::ExpiryLoop() {
  const absl::Duration period =
      absl::Seconds(std::clamp<int64_t>(config_.result_retention().seconds() / 4, 1, 60));
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_expiry_; };
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping), period)) {
    mu_.Unlock();
    const absl::StatusOr<std::vector<std::string>> expired = store_->ExpireBefore(absl::Now());
    if (!expired.ok()) {
      GetLogger(kServerLogger)->error("result expiry: {}", expired.status().ToString());
    } else {
      for (const std::string& id : *expired) {
        for (const auto format :
             {videogen::v1::OUTPUT_FORMAT_MP4_H264, videogen::v1::OUTPUT_FORMAT_RAW_FRAMES}) {
          if (const absl::Status removed = results_->Remove(id, format); !removed.ok()) {
            GetLogger(kServerLogger)->error("job {}: {}", id, removed.ToString());
          }
        }
      }
      if (!expired->empty()) {
        GetLogger(kServerLogger)->info("expired {} finished job(s)", expired->size());
      }
    }
    mu_.Lock();
  }
}

}  // namespace videogen::server
