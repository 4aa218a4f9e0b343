// The video-job service behind the RPCs (one engine facade, server/video_generation_service.h is
// a thin layer over it): admission (validation with defaults, durable record, bounded priority
// queue), one engine loop per engine (a device or an engine group, each with its own copy of
// the configured models) that takes jobs in queue order as it frees up, cancellation
// at step boundaries, live events for watchers, results with their retention, crash recovery
// and draining.
//
// Durability: every admitted job is in the job store before Submit() returns; state changes and
// stage changes are written through; per-step progress is kept in memory (a restart re-runs an
// interrupted job from the start anyway). At Create(), jobs interrupted by a crash are re-queued
// (JobStore::Recover; after kMaxAttempts starts they fail with an explanation) in their original
// order; jobs that no longer fit the queue fail with a clear reason.
//
// Thread-safe. Event sinks are called with the manager's lock held: they must only queue the
// event and return, and must not call back into the manager.
#ifndef VIDEOGEN_SERVER_JOB_MANAGER_H_
#define VIDEOGEN_SERVER_JOB_MANAGER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/server_config.pb.h"
#include "proto/video_job.pb.h"
#include "server/event_stream.h"
#include "server/job_metrics.h"
#include "server/job_queue.h"
#include "server/job_runner.h"
#include "server/job_store.h"
#include "server/result_store.h"

namespace videogen::server {

// Receives the events of one watched job (JobEvent's queued, stage_changed, progress, result; the
// `accepted` event is the caller's, from Watch()'s snapshot). Nothing follows `result`.
using JobEventSink = EventSink<videogen::v1::JobEvent>;

class JobManager {
 public:
  // A job interrupted this many times (crashes or drains while it ran) fails instead of re-running.
  static constexpr int kMaxAttempts = 3;

  struct Submitted {
    videogen::v1::VideoJob job;
    bool deduplicated = false;  // An existing job with the same idempotency key and spec.
  };

  // The runners of one engine, one per configured model (by JobRunner::model()), and the CUDA
  // device whose peak memory its job records report (its rank 0's; ignored without CUDA).
  struct Engine {
    std::vector<std::unique_ptr<JobRunner>> runners;
    int device = 0;
  };

  // `config` with defaults applied; `engines` run jobs side by side, writing into `results`;
  // `metrics` may be null and must outlive the manager. Opens `data_dir`/jobs.db (data_dir must
  // exist), recovers interrupted jobs and starts the engine loops. FAILED_PRECONDITION if an
  // engine lacks a runner for a configured model or there is no engine; the store's errors.
  static absl::StatusOr<std::unique_ptr<JobManager>> Create(
      const videogen::v1::ServerConfig& config, std::vector<Engine> engines,
      std::unique_ptr<ResultStore> results, JobMetrics* metrics);
  // One engine on device 0.
  static absl::StatusOr<std::unique_ptr<JobManager>> Create(
      const videogen::v1::ServerConfig& config, std::vector<std::unique_ptr<JobRunner>> runners,
      std::unique_ptr<ResultStore> results, JobMetrics* metrics);
  // Drain(absl::ZeroDuration()) unless Drain() ran.
  ~JobManager();

  // Admits a job and, if `sink` is set, subscribes it as Watch() would, atomically with the
  // admission (for a deduplicated job that already finished nothing is subscribed). Errors:
  // NormalizeJobSpec's (INVALID_ARGUMENT, NOT_FOUND for an unknown model), INVALID_ARGUMENT for a
  // budget the step count cannot meet, ALREADY_EXISTS for an idempotency key reused with another
  // spec, RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE once draining.
  absl::StatusOr<Submitted> Submit(const videogen::v1::VideoJobSpec& spec,
                                   std::shared_ptr<JobEventSink> sink = nullptr);

  // The current record (queue position and progress included). NOT_FOUND for an unknown or
  // expired job.
  absl::StatusOr<videogen::v1::VideoJob> Get(const std::string& id) const;

  // Why a job is cancelled; its error code is DEADLINE_EXCEEDED for kDeadline, else CANCELLED.
  enum class CancelCause {
    kRequested,   // CancelJob.
    kClientGone,  // The client of Generate went away (ignored once draining: the job re-queues).
    kDeadline,    // The deadline of the Generate call passed.
  };
  // Cancels a job as CancelJob documents. NOT_FOUND, or FAILED_PRECONDITION for a SUCCEEDED or
  // FAILED job.
  absl::StatusOr<videogen::v1::VideoJob> Cancel(const std::string& id,
                                                CancelCause cause = CancelCause::kRequested);

  // The jobs of every client, newest first (JobStore::List; live records for unfinished jobs).
  absl::StatusOr<JobStore::ListResult> List(const JobStore::ListOptions& options) const;

  // Returns the job's current record and, unless it is finished, subscribes `sink` to its events
  // from that record on (atomically: no event is missed or repeated). NOT_FOUND as Get().
  absl::StatusOr<videogen::v1::VideoJob> Watch(const std::string& id,
                                               std::shared_ptr<JobEventSink> sink);
  // Unsubscribes `sink` (no-op if it is not subscribed). No call reaches it after this returns.
  void Unwatch(const std::string& id, const JobEventSink* sink);

  // Up to `max_bytes` of a succeeded job's result from `offset`, with its description. NOT_FOUND
  // for an unknown job or expired result, FAILED_PRECONDITION unless the job SUCCEEDED,
  // OUT_OF_RANGE for a bad offset.
  struct ResultChunk {
    videogen::v1::VideoOutput output;
    std::string data;
  };
  absl::StatusOr<ResultChunk> ReadResult(const std::string& id, int64_t offset,
                                         int64_t max_bytes) const;

  // Refuses new jobs from now on (UNAVAILABLE) and ignores CancelCause::kClientGone, then waits
  // up to `grace` for the running jobs to finish; those that do not are interrupted at their
  // next step boundary and re-queued for the next start. Queued jobs stay queued in the store.
  // Stops the engine loops and the expiry thread.
  void Drain(absl::Duration grace);

  int queued() const { return queue_->size(); }
  // Jobs running now (at most one per engine).
  int running() const;

 private:
  struct Live {
    videogen::v1::VideoJob record;
    std::vector<std::shared_ptr<JobEventSink>> sinks;
    int reported_position = 0;
  };
  // A running job's timing state (guarded by mu_).
  struct Running {
    std::string id;
    videogen::v1::JobStage stage = videogen::v1::JOB_STAGE_UNSPECIFIED;
    absl::Time stage_start;
    absl::Time denoise_start;
    absl::StatusCode cancel_reason = absl::StatusCode::kOk;
  };
  // One engine's runners, loop and running job.
  struct EngineState {
    absl::flat_hash_map<std::string, std::unique_ptr<JobRunner>> runners;
    int device = 0;
    Running running;  // Guarded by mu_.
    // Read by the running job's cancel check without the lock.
    std::atomic<bool> cancel_requested{false};
    std::thread thread;
  };

  JobManager(const videogen::v1::ServerConfig& config, std::unique_ptr<JobStore> store,
             std::unique_ptr<JobQueue> queue, std::unique_ptr<ResultStore> results,
             std::vector<Engine> engines, JobMetrics* metrics);

  void EngineLoop(EngineState& engine_state);
  void ExpiryLoop();
  void RunJob(EngineState& engine_state, const std::string& id);
  // Callbacks of an engine's running job.
  void OnStage(EngineState& engine_state, videogen::v1::JobStage stage);
  void OnStep(EngineState& engine_state, const engine::wan::StepEvent& event);
  // Ends the engine's running stage's timing at `now`.
  void CloseStageLocked(EngineState& engine_state, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores and publishes a terminal record, drops its live state.
  void FinishLocked(videogen::v1::VideoJob record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(Live& live, videogen::v1::JobEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `queued` events to watchers whose job's position changed.
  void PublishPositionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  videogen::v1::VideoJob CurrentLocked(const Live& live) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PersistLocked(const videogen::v1::VideoJob& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const videogen::v1::ServerConfig config_;
  const std::unique_ptr<JobStore> store_;
  const std::unique_ptr<JobQueue> queue_;
  const std::unique_ptr<ResultStore> results_;
  std::vector<std::unique_ptr<EngineState>> engines_;
  JobMetrics* const metrics_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Live> live_ ABSL_GUARDED_BY(mu_);
  // Seconds of VAE decoding + video encoding per output megapixel-frame, measured on the last
  // finished job (0 before): the tail of the progress ETA.
  double tail_seconds_per_megapixel_frame_ ABSL_GUARDED_BY(mu_) = 0;
  bool admitting_ ABSL_GUARDED_BY(mu_) = true;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_expiry_ ABSL_GUARDED_BY(mu_) = false;
  // Read by the running jobs' cancel checks without the lock.
  std::atomic<bool> interrupt_requested_{false};

  std::thread expiry_thread_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_JOB_MANAGER_H_
