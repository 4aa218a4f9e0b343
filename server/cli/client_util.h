// The testable pieces of the `videogen` CLI: building a job spec and parsing other command-line
// values, rendering job events, records and summaries for people, and storing a fetched result
// atomically with its size and SHA-256 checked. Nothing here talks to the server.
#ifndef VIDEOGEN_SERVER_CLI_CLIENT_UTIL_H_
#define VIDEOGEN_SERVER_CLI_CLIENT_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "proto/video_job.pb.h"
#include "server/sha256.h"

namespace videogen::cli {

// Command-line values of a job spec; zero/empty fields keep the server's defaults.
struct SpecValues {
  std::string prompt, negative_prompt, model, format, idempotency_key;
  int height = 0, width = 0, frames = 0, fps = 0, steps = 0, priority = 0;
  double guidance_scale = 0, budget = 0;
  std::string acceleration;
  int64_t seed = -1;  // -1: the server draws one.
};

// Builds the spec of `values`. INVALID_ARGUMENT (naming the flag) for an empty prompt, a format
// other than "", "mp4" or "raw", or a seed below -1. Every other range is the server's to check:
// it knows its limits and names the field.
absl::StatusOr<videogen::v1::VideoJobSpec> BuildSpec(const SpecValues& values);

// Parses the --state filter of `jobs`: comma-separated state names such as "queued,running"
// (case-insensitive, empty items skipped). INVALID_ARGUMENT for an unknown name.
absl::StatusOr<std::vector<videogen::v1::JobState>> ParseStates(absl::string_view text);

// The admin token from the contents of --admin_token_file if `file` is not empty, else from
// `env_value` ($VIDEOGEN_ADMIN_TOKEN; nullptr or empty: no token, returns ""). Surrounding
// whitespace (the file's trailing newline) is stripped. INVALID_ARGUMENT if the file cannot be
// read, holds no token, or the token has characters other than printable ASCII (it travels as
// the value of the "authorization" metadata).
absl::StatusOr<std::string> ReadAdminToken(const std::string& file, const char* env_value);

// Lower-case names for people: "succeeded", "text encoding", "exact_key".
std::string StateName(videogen::v1::JobState state);
std::string StageName(videogen::v1::JobStage stage);
std::string MatchName(videogen::v1::ScheduleMatch match);

// "12.3s" below a minute, "1:05" below an hour, "1:02:03" from an hour on.
std::string FormatDuration(const google::protobuf::Duration& duration);

// One progress line, e.g. "step 12/50   24%  tokens 48.0% of dense  ETA 13.0s" (the tokens part
// only once dense_tokens > 0, the ETA only if set).
std::string ProgressLine(const videogen::v1::JobProgress& progress);

// Turns the events of a Generate or WatchJob stream into the text the CLI writes to stderr:
// "job ID" on `accepted` (then "queued, position N" if the job is queued, or its stage and step
// if it is running), "queued, position N" when the position changes, "stage NAME (PREVIOUS took
// 1.2s)", and progress. On a terminal (`tty`) progress is one line with a bar, redrawn in place
// with '\r' and ended by a newline before any other output; otherwise it is a plain
// ProgressLine at most every `kPlainProgressInterval`, plus the last step's. `result` events
// render nothing: the caller reports the final record. Not thread-safe.
class JobEventRenderer {
 public:
  static constexpr absl::Duration kPlainProgressInterval = absl::Seconds(2);

  explicit JobEventRenderer(bool tty) : tty_(tty) {}

  // The text to write for `event`, received at `now`; may be empty.
  std::string Render(const videogen::v1::JobEvent& event, absl::Time now);

  // "\n" if a redrawn progress line is open (call when the stream ends), else "".
  std::string Finish();

 private:
  const bool tty_;
  bool line_open_ = false;       // A redrawn progress line awaits its newline.
  int last_queue_position_ = 0;  // The queue position last shown.
  absl::Time last_plain_progress_ = absl::InfinitePast();
};

// A multi-line, human-readable record of a job ("state    running" style lines: state, stage,
// spec, steps, tokens, schedule, times, stage timings, memory, output size and SHA-256, error).
// Leaves out the prompt texts.
std::string DescribeJob(const videogen::v1::VideoJob& job);

// The one-line report of a job that succeeded and was written to `path`: id, path, size, wall
// time per stage, tokens computed as a share of dense, and the schedule (match, budget,
// predicted speedup).
std::string SummaryLine(const videogen::v1::VideoJob& job, const std::string& path);

// Why a FAILED or CANCELLED job did not succeed: "job ID failed: RESOURCE_EXHAUSTED: device out
// of memory".
std::string FailureLine(const videogen::v1::VideoJob& job);

// The header and one row of the `jobs` table: id, state, creation time (UTC), steps done/total,
// budget, and the prompt on one line, cut to 40 characters (whole UTF-8 characters).
std::string JobListHeader();
std::string JobListLine(const videogen::v1::VideoJob& job);

// Writes a file atomically: bytes go to `path`.tmp, and Commit() checks them, syncs them to disk
// and renames the temporary file over `path`. Until a successful Commit() `path` is untouched;
// a writer destroyed without one (or whose Commit() fails) removes the temporary file. Not
// thread-safe.
class AtomicFileWriter {
 public:
  // Creates (truncates) `path`.tmp. The error of open(2) (e.g. NOT_FOUND for a missing
  // directory), naming the file, if it cannot.
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Appends `data`. The error of write(2) if it fails; FAILED_PRECONDITION after Commit().
  absl::Status Append(absl::string_view data);

  // Bytes appended so far.
  int64_t size() const { return size_; }

  // Finishes the file if exactly `expected_size` bytes were appended (any number if < 0) and,
  // when `expected_sha256` (lower-case hex) is not empty, they hash to it: DATA_LOSS otherwise.
  // The error of fsync(2)/rename(2) if those fail; FAILED_PRECONDITION if called twice.
  absl::Status Commit(int64_t expected_size, absl::string_view expected_sha256);

 private:
  AtomicFileWriter(std::string path, int fd, server::Sha256 digest);
  // Closes and removes the temporary file.
  void Discard();

  const std::string path_;
  const std::string temp_path_;
  int fd_;  // -1 once committed or discarded.
  server::Sha256 digest_;
  int64_t size_ = 0;
};

// Appends one FetchVideo chunk to `writer` after checking that it continues the bytes so far
// (chunk.offset == writer.size()) and stays within chunk.total_size: DATA_LOSS otherwise.
absl::Status AppendChunk(const videogen::v1::VideoChunk& chunk, AtomicFileWriter& writer);

}  // namespace videogen::cli

#endif  // VIDEOGEN_SERVER_CLI_CLIENT_UTIL_H_
