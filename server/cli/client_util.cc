#include "server/cli/client_util.h"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"

namespace videogen::cli {
namespace {

using ::google::protobuf::util::TimeUtil;

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

std::string StateName(videogen::v1::JobState state) {
  return absl::AsciiStrToLower(videogen::v1::JobState_Name(state).substr(sizeof("JOB_STATE_") - 1));
}

}  // namespace

absl::StatusOr<videogen::v1::VideoJobSpec> BuildSpec(const SpecValues& values) {
  if (values.prompt.empty()) return absl::InvalidArgumentError("--prompt is required");
  videogen::v1::VideoJobSpec spec;
  spec.set_prompt(values.prompt);
  spec.set_negative_prompt(values.negative_prompt);
  spec.set_model(values.model);
  spec.set_height(values.height);
  spec.set_width(values.width);
  spec.set_frames(values.frames);
  spec.set_fps(values.fps);
  spec.set_steps(values.steps);
  spec.set_guidance_scale(static_cast<float>(values.guidance_scale));
  spec.set_budget(static_cast<float>(values.budget));
  spec.set_priority(values.priority);
  spec.set_idempotency_key(values.idempotency_key);
  if (values.seed >= 0) spec.set_seed(static_cast<uint64_t>(values.seed));
  if (values.format == "mp4") {
    spec.set_output_format(videogen::v1::OUTPUT_FORMAT_MP4_H264);
  } else if (values.format == "raw") {
    spec.set_output_format(videogen::v1::OUTPUT_FORMAT_RAW_FRAMES);
  } else if (!values.format.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--format=", values.format, " is not one of mp4, raw"));
  }
  return spec;
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  const double seconds = TimeUtil::DurationToNanoseconds(duration) / 1e9;
  if (seconds < 60) return absl::StrFormat("%.1fs", seconds);
  const int64_t whole = static_cast<int64_t>(seconds + 0.5);
  return absl::StrFormat("%d:%02d", whole / 60, whole % 60);
}

std::string ProgressLine(const videogen::v1::JobProgress& progress) {
  const int total = std::max(progress.total_steps(), 1);
  std::string line = absl::StrFormat("step %d/%d  %3d%%", progress.step(), progress.total_steps(),
                                     100 * progress.step() / total);
  if (progress.dense_tokens() > 0) {
    absl::StrAppendFormat(&line, "  tokens %.1f%% of dense",
                          100.0 * progress.tokens_computed() / progress.dense_tokens());
  }
  if (progress.has_eta()) absl::StrAppend(&line, "  ETA ", FormatDuration(progress.eta()));
  return line;
}

std::string DescribeJob(const videogen::v1::VideoJob& job) {
  const auto& spec = job.spec();
  std::string out = absl::StrFormat(
      "job      %s\nstate    %s%s\nspec     %s %dx%dx%d, %d steps, guidance %g, budget %g, seed "
      "%d\nsteps    %d/%d\n",
      job.id(), StateName(job.state()),
      job.state() == videogen::v1::JOB_STATE_QUEUED
          ? absl::StrCat(" (position ", job.queue_position(), ")")
          : "",
      spec.model(), spec.width(), spec.height(), spec.frames(), spec.steps(),
      spec.guidance_scale(), spec.budget(), spec.seed(), job.steps_done(), job.steps_total());
  if (job.dense_tokens() > 0) {
    absl::StrAppendFormat(&out, "tokens   %d of %d dense (%.1f%%)\n", job.tokens_computed(),
                          job.dense_tokens(),
                          100.0 * job.tokens_computed() / job.dense_tokens());
  }
  if (job.has_schedule()) {
    absl::StrAppendFormat(&out, "schedule %s%s, budget %g, predicted speedup %.2fx\n",
                          absl::AsciiStrToLower(videogen::v1::ScheduleMatch_Name(
                              job.schedule().match()).substr(sizeof("SCHEDULE_MATCH_") - 1)),
                          job.schedule().searched() ? " (searched)" : "",
                          job.schedule().budget(), job.schedule().predicted_speedup());
  }
  const auto& t = job.stage_timings();
  if (t.has_total()) {
    absl::StrAppend(&out, "timings  queued ", FormatDuration(t.queued()), ", text ",
                    FormatDuration(t.text_encoding()), ", denoising ",
                    FormatDuration(t.denoising()), ", VAE ", FormatDuration(t.vae_decoding()),
                    ", encode ", FormatDuration(t.video_encoding()), ", total ",
                    FormatDuration(t.total()), "\n");
  }
  if (job.peak_device_memory_bytes() > 0) {
    absl::StrAppendFormat(&out, "memory   %.2f GiB peak\n",
                          job.peak_device_memory_bytes() / (1024.0 * 1024 * 1024));
  }
  if (job.has_output()) {
    absl::StrAppendFormat(&out, "output   %s, %d bytes, sha256 %s\n", job.output().content_type(),
                          job.output().size_bytes(), job.output().sha256());
  }
  if (job.error_code() != 0) {
    absl::StrAppendFormat(&out, "error    %s: %s\n",
                          absl::StatusCodeToString(static_cast<absl::StatusCode>(job.error_code())),
                          job.error_message());
  }
  return out;
}

absl::Status WriteResult(const std::string& path, const std::string& data,
                         const std::string& expected_sha256) {
  if (!expected_sha256.empty() && Sha256Hex(data) != expected_sha256) {
    return absl::DataLossError(absl::StrCat("the fetched result does not match its SHA-256 ",
                                            expected_sha256, "; nothing written"));
  }
  const std::string temp = path + ".tmp";
  {
    std::ofstream file(temp, std::ios::binary | std::ios::trunc);
    file.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!file.flush()) {
      std::remove(temp.c_str());
      return absl::InternalError(absl::StrCat("cannot write ", temp));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace videogen::cli
