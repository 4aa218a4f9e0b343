// The job service's Prometheus metrics (registered in a MetricsRegistry, served by
// MetricsHttpServer):
//
//   videogen_job_submissions_total{code}          Submit() results by gRPC status code name.
//   videogen_jobs_finished_total{state}           jobs that reached SUCCEEDED, FAILED, CANCELLED.
//   videogen_job_stage_seconds{stage}             wall time per stage (queued, text_encoding,
//                                                 denoising, vae_decoding, video_encoding) of
//                                                 succeeded jobs.
//   videogen_job_seconds{budget}                  start-to-finish time of succeeded jobs by
//                                                 requested budget (one decimal).
//   videogen_job_tokens_computed_ratio            tokens computed / dense tokens of succeeded jobs.
//   videogen_device_memory_peak_bytes             peak device memory of the last finished job.
//
// The queue depth and the running jobs are callback gauges over the JobManager, registered by
// main() (videogen_queued_jobs, videogen_running_jobs). Thread-safe.
#ifndef VIDEOGEN_SERVER_JOB_METRICS_H_
#define VIDEOGEN_SERVER_JOB_METRICS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/video_job.pb.h"
#include "server/metrics.h"

namespace videogen::server {

class JobMetrics {
 public:
  // Registers the metrics in `registry` (which must outlive this). The registry's errors (e.g.
  // ALREADY_EXISTS if registered twice).
  static absl::StatusOr<std::unique_ptr<JobMetrics>> Create(MetricsRegistry* registry);

  void Submitted(absl::StatusCode code);
  // A job reached a terminal state.
  void Finished(const videogen::v1::VideoJob& job);

 private:
  JobMetrics() = default;

  Counter* submissions_ = nullptr;
  Counter* finished_ = nullptr;
  Histogram* stage_seconds_ = nullptr;
  Histogram* job_seconds_ = nullptr;
  Histogram* tokens_ratio_ = nullptr;
  Gauge* device_memory_ = nullptr;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_JOB_METRICS_H_
