// The testable pieces of the `videogen` CLI: building a job spec from command-line values,
// formatting progress and job records for people, and storing a fetched result safely.
#ifndef VIDEOGEN_SERVER_CLI_CLIENT_UTIL_H_
#define VIDEOGEN_SERVER_CLI_CLIENT_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/duration.pb.h"
#include "proto/video_job.pb.h"

namespace videogen::cli {

// Command-line values of a job spec; zero/empty fields keep the server's defaults.
struct SpecValues {
  std::string prompt, negative_prompt, model, format, idempotency_key;
  int height = 0, width = 0, frames = 0, fps = 0, steps = 0, priority = 0;
  double guidance_scale = 0, budget = 0;
  int64_t seed = -1;  // < 0: the server draws one.
};

// INVALID_ARGUMENT for an empty prompt or a format other than "", "mp4" or "raw" (the server
// checks everything else and names the field).
absl::StatusOr<videogen::v1::VideoJobSpec> BuildSpec(const SpecValues& values);

// "1:05", "12.3s" style durations: m:ss from a minute on, else seconds with one decimal.
std::string FormatDuration(const google::protobuf::Duration& duration);

// One progress line, e.g. "step 12/50  24%  tokens 48.0% of dense  ETA 0:13".
std::string ProgressLine(const videogen::v1::JobProgress& progress);

// A multi-line human-readable summary of a job record (no prompt text).
std::string DescribeJob(const videogen::v1::VideoJob& job);

// Writes `data` to `path` through `path`.tmp and a rename. If `expected_sha256` is not empty the
// data must hash to it (DATA_LOSS otherwise, nothing written). INTERNAL for I/O errors.
absl::Status WriteResult(const std::string& path, const std::string& data,
                         const std::string& expected_sha256);

}  // namespace videogen::cli

#endif  // VIDEOGEN_SERVER_CLI_CLIENT_UTIL_H_
