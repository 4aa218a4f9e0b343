#include "server/cli/client_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace videogen::cli {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::videogen::v1::JobState;

constexpr int kProgressBarWidth = 20;
constexpr size_t kPromptColumnChars = 40;

// The enum value name without `prefix`, lower-cased, with '_' turned into ' ' unless
// `keep_underscores`; "unknown(<number>)" for a value the proto lacks.
std::string EnumText(const std::string& name, absl::string_view prefix, int number,
                     bool keep_underscores) {
  if (!absl::StartsWith(name, prefix)) return absl::StrCat("unknown(", number, ")");
  std::string text = absl::AsciiStrToLower(absl::StripPrefix(name, prefix));
  if (!keep_underscores) std::replace(text.begin(), text.end(), '_', ' ');
  return text;
}

// "2026-11-24 00:53:16" (UTC), or "-" for an unset time.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  const absl::Time time =
      absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", time, absl::UTCTimeZone());
}

// "48.0% of dense", or "" before any step.
std::string TokenShare(int64_t computed, int64_t dense) {
  if (dense <= 0) return "";
  return absl::StrFormat("%.1f%% of dense", 100.0 * computed / dense);
}

// "queued 0.1s, text encoding 0.5s, ..., total 1:10": the phases that have run.
std::string DescribeTimings(const videogen::v1::StageTimings& t) {
  std::vector<std::string> parts;
  auto add = [&parts](absl::string_view name, bool has, const google::protobuf::Duration& d) {
    if (has) parts.push_back(absl::StrCat(name, " ", FormatDuration(d)));
  };
  add("queued", t.has_queued(), t.queued());
  add("text encoding", t.has_text_encoding(), t.text_encoding());
  add("denoising", t.has_denoising(), t.denoising());
  add("VAE decoding", t.has_vae_decoding(), t.vae_decoding());
  add("video encoding", t.has_video_encoding(), t.video_encoding());
  add("total", t.has_total(), t.total());
  return absl::StrJoin(parts, ", ");
}

// "exact_key (searched), budget 0.5, predicted speedup 1.85x".
std::string DescribeSchedule(const videogen::v1::ScheduleRef& schedule) {
  return absl::StrFormat("%s%s, budget %g, predicted speedup %.2fx", MatchName(schedule.match()),
                         schedule.searched() ? " (searched)" : "", schedule.budget(),
                         schedule.predicted_speedup());
}

// "RESOURCE_EXHAUSTED: device out of memory" from a record's error fields.
std::string DescribeError(const videogen::v1::VideoJob& job) {
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(job.error_code()));
  if (job.error_message().empty()) return code;
  return absl::StrCat(code, ": ", job.error_message());
}

// `text` on one line (control characters as spaces), cut to `max_chars` UTF-8 characters with
// "..." appended when cut.
std::string OneLine(absl::string_view text, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  for (const char c : text) {
    const bool continuation = (static_cast<unsigned char>(c) & 0xC0) == 0x80;
    if (!continuation && chars++ == max_chars) return out + "...";
    out += absl::ascii_iscntrl(static_cast<unsigned char>(c)) ? ' ' : c;
  }
  return out;
}

std::string ProgressBar(const videogen::v1::JobProgress& progress) {
  const int total = std::max(progress.total_steps(), 1);
  const int filled = std::clamp(kProgressBarWidth * progress.step() / total, 0, kProgressBarWidth);
  return absl::StrCat("[", std::string(filled, '#'), std::string(kProgressBarWidth - filled, '.'),
                      "]");
}

}  // namespace

absl::StatusOr<videogen::v1::VideoJobSpec> BuildSpec(const SpecValues& values) {
  if (values.prompt.empty()) return absl::InvalidArgumentError("--prompt is required");
  if (values.seed < -1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--seed=", values.seed, " is negative; leave it out to let the server draw one"));
  }
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
  spec.set_acceleration(values.acceleration);
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

absl::StatusOr<std::vector<JobState>> ParseStates(absl::string_view text) {
  std::vector<JobState> states;
  for (const absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(item));
    JobState state;
    if (name == "UNSPECIFIED" || !videogen::v1::JobState_Parse("JOB_STATE_" + name, &state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state: unknown state '", item,
                       "' (one of queued, running, succeeded, failed, cancelled)"));
    }
    states.push_back(state);
  }
  return states;
}

absl::StatusOr<std::string> ReadAdminToken(const std::string& file, const char* env_value) {
  std::string source = "$VIDEOGEN_ADMIN_TOKEN";
  std::string token;
  if (!file.empty()) {
    source = absl::StrCat("--admin_token_file=", file);
    std::ifstream in(file, std::ios::binary);
    token.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.is_open() || in.bad()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", source, ": ", std::strerror(errno)));
    }
    absl::StripAsciiWhitespace(&token);
    if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(source, " holds no token"));
  } else if (env_value != nullptr) {
    token = env_value;
    absl::StripAsciiWhitespace(&token);
  }
  for (const char c : token) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("the admin token of ", source,
                       " must be one line of printable ASCII (it is sent as call metadata)"));
    }
  }
  return token;
}

std::string StateName(JobState state) {
  return EnumText(videogen::v1::JobState_Name(state), "JOB_STATE_", state, false);
}

std::string StageName(videogen::v1::JobStage stage) {
  return EnumText(videogen::v1::JobStage_Name(stage), "JOB_STAGE_", stage, false);
}

std::string MatchName(videogen::v1::ScheduleMatch match) {
  return EnumText(videogen::v1::ScheduleMatch_Name(match), "SCHEDULE_MATCH_", match, true);
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  const double seconds = TimeUtil::DurationToNanoseconds(duration) / 1e9;
  if (seconds < 59.95) return absl::StrFormat("%.1fs", seconds);
  const int64_t whole = std::llround(seconds);
  if (whole < 3600) return absl::StrFormat("%d:%02d", whole / 60, whole % 60);
  return absl::StrFormat("%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60);
}

std::string ProgressLine(const videogen::v1::JobProgress& progress) {
  const int total = std::max(progress.total_steps(), 1);
  std::string line = absl::StrFormat("step %d/%d  %3d%%", progress.step(), progress.total_steps(),
                                     100 * progress.step() / total);
  if (const std::string share = TokenShare(progress.tokens_computed(), progress.dense_tokens());
      !share.empty()) {
    absl::StrAppend(&line, "  tokens ", share);
  }
  if (progress.has_eta()) absl::StrAppend(&line, "  ETA ", FormatDuration(progress.eta()));
  return line;
}

std::string JobEventRenderer::Render(const videogen::v1::JobEvent& event, absl::Time now) {
  using videogen::v1::JobEvent;
  if (event.event_case() == JobEvent::kProgress) {
    const auto& progress = event.progress();
    if (tty_) {
      line_open_ = true;
      // "\033[K" clears what a longer previous line left on the right.
      return absl::StrCat("\r", ProgressBar(progress), " ", ProgressLine(progress), "\033[K");
    }
    const bool last = progress.step() >= progress.total_steps();
    if (!last && now - last_plain_progress_ < kPlainProgressInterval) return "";
    last_plain_progress_ = now;
    return ProgressLine(progress) + "\n";
  }
  std::string out;
  switch (event.event_case()) {
    case JobEvent::kAccepted: {
      const auto& job = event.accepted().job();
      absl::StrAppend(&out, "job ", event.job_id(),
                      event.accepted().deduplicated()
                          ? " (an existing job with this idempotency key)\n"
                          : "\n");
      if (job.state() == videogen::v1::JOB_STATE_QUEUED && job.queue_position() > 0) {
        absl::StrAppend(&out, "queued, position ", job.queue_position(), "\n");
        last_queue_position_ = job.queue_position();
      } else if (job.state() == videogen::v1::JOB_STATE_RUNNING) {
        absl::StrAppend(&out, "running, stage ", StageName(job.stage()));
        if (job.steps_done() > 0) {
          absl::StrAppend(&out, ", step ", job.steps_done(), "/", job.steps_total());
        }
        out += "\n";
      }
      break;
    }
    case JobEvent::kQueued:
      if (event.queued().position() == last_queue_position_) return "";
      last_queue_position_ = event.queued().position();
      absl::StrAppend(&out, "queued, position ", last_queue_position_, "\n");
      break;
    case JobEvent::kStageChanged: {
      const auto& changed = event.stage_changed();
      absl::StrAppend(&out, "stage ", StageName(changed.stage()));
      if (changed.previous_stage() != videogen::v1::JOB_STAGE_UNSPECIFIED &&
          changed.has_previous_stage_duration()) {
        absl::StrAppend(&out, " (", StageName(changed.previous_stage()), " took ",
                        FormatDuration(changed.previous_stage_duration()), ")");
      }
      out += "\n";
      break;
    }
    default:
      return "";
  }
  return Finish() + out;
}

std::string JobEventRenderer::Finish() {
  if (!line_open_) return "";
  line_open_ = false;
  return "\n";
}

std::string DescribeJob(const videogen::v1::VideoJob& job) {
  const auto& spec = job.spec();
  std::string out = absl::StrCat("job      ", job.id(), "\nstate    ", StateName(job.state()));
  if (job.state() == videogen::v1::JOB_STATE_QUEUED && job.queue_position() > 0) {
    absl::StrAppend(&out, " (position ", job.queue_position(), ")");
  }
  out += "\n";
  if (job.stage() != videogen::v1::JOB_STAGE_UNSPECIFIED) {
    absl::StrAppend(&out, "stage    ", StageName(job.stage()), "\n");
  }
  absl::StrAppendFormat(
      &out, "spec     %s %dx%dx%d at %d fps, %d steps, guidance %g, budget %g, seed %d, %s\n",
      spec.model(), spec.width(), spec.height(), spec.frames(), spec.fps(), spec.steps(),
      spec.guidance_scale(), spec.budget(), spec.seed(),
      spec.output_format() == videogen::v1::OUTPUT_FORMAT_RAW_FRAMES ? "raw frames" : "mp4");
  if (!spec.acceleration().empty()) {
    absl::StrAppend(&out, "accel    ", spec.acceleration(), "\n");
  }
  absl::StrAppend(&out, "steps    ", job.steps_done(), "/", job.steps_total(), "\n");
  if (const std::string share = TokenShare(job.tokens_computed(), job.dense_tokens());
      !share.empty()) {
    absl::StrAppend(&out, "tokens   ", job.tokens_computed(), " of ", job.dense_tokens(), " (",
                    share, ")\n");
  }
  if (job.has_schedule()) {
    absl::StrAppend(&out, "schedule ", DescribeSchedule(job.schedule()));
    if (!job.schedule().schedule_id().empty()) {
      absl::StrAppend(&out, ", ", job.schedule().schedule_id(), " version ",
                      job.schedule().version());
    }
    out += "\n";
  }
  absl::StrAppend(&out, "created  ", FormatTimestamp(job.create_time()), " UTC\n");
  if (job.has_start_time()) {
    absl::StrAppend(&out, "started  ", FormatTimestamp(job.start_time()), " UTC\n");
  }
  if (job.has_finish_time()) {
    absl::StrAppend(&out, "finished ", FormatTimestamp(job.finish_time()), " UTC\n");
  }
  if (const std::string timings = DescribeTimings(job.stage_timings()); !timings.empty()) {
    absl::StrAppend(&out, "timings  ", timings, "\n");
  }
  if (job.peak_device_memory_bytes() > 0) {
    absl::StrAppendFormat(&out, "memory   %.2f GiB peak\n",
                          job.peak_device_memory_bytes() / (1024.0 * 1024 * 1024));
  }
  if (job.has_output()) {
    absl::StrAppend(&out, "output   ", job.output().content_type(), ", ", job.output().size_bytes(),
                    " bytes, sha256 ", job.output().sha256(), "\n");
  }
  if (job.error_code() != 0) absl::StrAppend(&out, "error    ", DescribeError(job), "\n");
  return out;
}

std::string SummaryLine(const videogen::v1::VideoJob& job, const std::string& path) {
  std::string line =
      absl::StrCat("job ", job.id(), ": wrote ", path, " (", job.output().size_bytes(), " bytes)");
  if (const std::string timings = DescribeTimings(job.stage_timings()); !timings.empty()) {
    absl::StrAppend(&line, "; ", timings);
  }
  if (const std::string share = TokenShare(job.tokens_computed(), job.dense_tokens());
      !share.empty()) {
    absl::StrAppend(&line, "; tokens ", share);
  }
  if (job.has_schedule()) absl::StrAppend(&line, "; schedule ", DescribeSchedule(job.schedule()));
  return line;
}

std::string FailureLine(const videogen::v1::VideoJob& job) {
  std::string line = absl::StrCat("job ", job.id());
  switch (job.state()) {
    case videogen::v1::JOB_STATE_FAILED:
      line += " failed";
      break;
    case videogen::v1::JOB_STATE_CANCELLED:
      line += " was cancelled";
      break;
    default:
      absl::StrAppend(&line, " is ", StateName(job.state()));
      break;
  }
  if (job.error_code() != 0) absl::StrAppend(&line, ": ", DescribeError(job));
  return line;
}

std::string JobListHeader() {
  return absl::StrFormat("%-32s  %-9s  %-19s  %7s  %-6s  %s", "JOB", "STATE", "CREATED (UTC)",
                         "STEPS", "BUDGET", "PROMPT");
}

std::string JobListLine(const videogen::v1::VideoJob& job) {
  return absl::StrFormat("%-32s  %-9s  %-19s  %7s  %-6.2f  %s", job.id(), StateName(job.state()),
                         FormatTimestamp(job.create_time()),
                         absl::StrCat(job.steps_done(), "/", job.steps_total()),
                         job.spec().budget(), OneLine(job.spec().prompt(), kPromptColumnChars));
}

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    const std::string& path) {
  const std::string temp_path = path + ".tmp";
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", temp_path));
  absl::StatusOr<server::Sha256> digest = server::Sha256::Create();
  if (!digest.ok()) {
    ::close(fd);
    ::unlink(temp_path.c_str());
    return digest.status();
  }
  return std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter(path, fd, *std::move(digest)));
}

AtomicFileWriter::AtomicFileWriter(std::string path, int fd, server::Sha256 digest)
    : path_(std::move(path)), temp_path_(path_ + ".tmp"), fd_(fd), digest_(std::move(digest)) {}

AtomicFileWriter::~AtomicFileWriter() { Discard(); }

void AtomicFileWriter::Discard() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(temp_path_.c_str());
  fd_ = -1;
}

absl::Status AtomicFileWriter::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(temp_path_, " is closed"));
  digest_.Update(data);
  size_ += static_cast<int64_t>(data.size());
  while (!data.empty()) {
    const ssize_t written = ::write(fd_, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      const absl::Status error =
          absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", temp_path_));
      Discard();
      return error;
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit(int64_t expected_size, absl::string_view expected_sha256) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(temp_path_, " is closed"));
  if (expected_size >= 0 && size_ != expected_size) {
    Discard();
    return absl::DataLossError(
        absl::StrCat("received ", size_, " of ", expected_size, " bytes; ", path_, " not written"));
  }
  const std::string hex = digest_.HexDigest();
  if (!expected_sha256.empty() && hex != absl::AsciiStrToLower(expected_sha256)) {
    Discard();
    return absl::DataLossError(absl::StrCat("the received bytes have SHA-256 ", hex,
                                            ", not the expected ", expected_sha256, "; ", path_,
                                            " not written"));
  }
  int error_number = ::fsync(fd_) == 0 ? 0 : errno;
  if (::close(fd_) != 0 && error_number == 0) error_number = errno;
  fd_ = -1;
  if (error_number != 0) {
    ::unlink(temp_path_.c_str());
    return absl::ErrnoToStatus(error_number, absl::StrCat("cannot write ", temp_path_));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const absl::Status error =
        absl::ErrnoToStatus(errno, absl::StrCat("cannot rename ", temp_path_, " to ", path_));
    ::unlink(temp_path_.c_str());
    return error;
  }
  return absl::OkStatus();
}

absl::Status AppendChunk(const videogen::v1::VideoChunk& chunk, AtomicFileWriter& writer) {
  if (chunk.offset() != writer.size()) {
    return absl::DataLossError(absl::StrCat("a chunk starts at byte ", chunk.offset(),
                                            " where byte ", writer.size(), " was expected"));
  }
  const int64_t end = chunk.offset() + static_cast<int64_t>(chunk.data().size());
  if (end > chunk.total_size()) {
    return absl::DataLossError(absl::StrCat("a chunk ends at byte ", end, ", past the result's ",
                                            chunk.total_size(), " bytes"));
  }
  return writer.Append(chunk.data());
}

}  // namespace videogen::cli
