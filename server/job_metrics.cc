#include "server/job_metrics.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "engine/common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace videogen::server {
namespace {

using ::google::protobuf::util::TimeUtil;

// Stage and job latencies from 10 ms (a tiny CPU model) to about 1.5 h (14B at 720p, dense).
const std::vector<double> kSecondsBuckets = {0.01, 0.03, 0.1, 0.3, 1,   3,    10,
                                             30,   60,   120, 300, 600, 1800, 5400};
const std::vector<double> kRatioBuckets = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};

double Seconds(const google::protobuf::Duration& duration) {
  return TimeUtil::DurationToNanoseconds(duration) / 1e9;
}

std::string Lower(const std::string& name, const std::string& prefix) {
  return absl::AsciiStrToLower(name.substr(prefix.size()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobMetrics>> JobMetrics::Create(MetricsRegistry* registry) {
  std::unique_ptr<JobMetrics> metrics(new JobMetrics());
  VG_ASSIGN_OR_RETURN(metrics->submissions_,
                      registry->AddCounter("videogen_job_submissions_total",
                                           "Job submissions by gRPC status code.", {"code"}));
  VG_ASSIGN_OR_RETURN(metrics->finished_,
                      registry->AddCounter("videogen_jobs_finished_total",
                                           "Jobs that reached a terminal state.", {"state"}));
  VG_ASSIGN_OR_RETURN(
      metrics->stage_seconds_,
      registry->AddHistogram("videogen_job_stage_seconds",
                             "Wall time per stage of succeeded jobs.", {"stage"}, kSecondsBuckets));
  VG_ASSIGN_OR_RETURN(metrics->job_seconds_,
                      registry->AddHistogram("videogen_job_seconds",
                                             "Start-to-finish time of succeeded jobs by budget.",
                                             {"budget"}, kSecondsBuckets));
  VG_ASSIGN_OR_RETURN(
      metrics->tokens_ratio_,
      registry->AddHistogram("videogen_job_tokens_computed_ratio",
                             "Tokens computed over dense tokens of succeeded jobs.", {},
                             kRatioBuckets));
  VG_ASSIGN_OR_RETURN(metrics->device_memory_,
                      registry->AddGauge("videogen_device_memory_peak_bytes",
                                         "Peak device memory of the last finished job.", {}));
  return metrics;
}

void JobMetrics::Submitted(absl::StatusCode code) {
  submissions_->Add(1, {absl::AsciiStrToLower(absl::StatusCodeToString(code))});
}

void JobMetrics::Finished(const videogen::v1::VideoJob& job) {
  finished_->Add(1, {Lower(videogen::v1::JobState_Name(job.state()), "JOB_STATE_")});
  device_memory_->Set(static_cast<double>(job.peak_device_memory_bytes()), {});
  if (job.state() != videogen::v1::JOB_STATE_SUCCEEDED) return;
  const auto& timings = job.stage_timings();
  const std::pair<const char*, const google::protobuf::Duration*> stages[] = {
      {"queued", &timings.queued()},
      {"text_encoding", &timings.text_encoding()},
      {"denoising", &timings.denoising()},
      {"vae_decoding", &timings.vae_decoding()},
      {"video_encoding", &timings.video_encoding()}};
  for (const auto& [stage, duration] : stages) stage_seconds_->Observe(Seconds(*duration), {stage});
  job_seconds_->Observe(Seconds(timings.total()), {absl::StrFormat("%.1f", job.spec().budget())});
  if (job.dense_tokens() > 0) {
    tokens_ratio_->Observe(static_cast<double>(job.tokens_computed()) / job.dense_tokens(), {});
  }
}

}  // namespace videogen::server
