// videogen: command-line client of the videogen server.
//
//   videogen [--server=HOST:PORT] [--timeout_s=N] [--admin_token_file=PATH] COMMAND [ARG]
//
// Commands: info, health, generate, submit, get, watch, cancel, fetch, jobs, schedules, searches
// (see kUsage). Progress and messages go to stderr, results (records, ids, tables) to stdout.
// Exit status: 0 success, 1 the server answered with an error, could not be reached, or the job
// did not succeed (the reason is printed), 2 bad usage, 130 interrupted (Ctrl-C during generate
// cancels the call, and with it the job). `health` exits 0 only if the service is SERVING.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/grpc_health_v1.grpc.pb.h"
#include "proto/videogen_service.grpc.pb.h"
#include "server/cli/client_util.h"

ABSL_FLAG(std::string, server, "localhost:50051", "Address of the videogen server, HOST:PORT.");
ABSL_FLAG(std::optional<int>, timeout_s, std::nullopt,
          "Deadline of each call, in seconds (default 10). The streams of generate, watch and "
          "fetch have no deadline unless this flag is given (a generate deadline cancels the "
          "job).");
ABSL_FLAG(std::string, service, "",
          "health: the service to ask about, e.g. videogen.v1.VideoGeneration (empty: the "
          "server as a whole).");

ABSL_FLAG(std::string, admin_token_file, "",
          "File holding the admin token, sent with every call as \"authorization: Bearer "
          "<token>\" (needed by `jobs` and the admin schedule/search commands). Default: "
          "$VIDEOGEN_ADMIN_TOKEN, if set.");
ABSL_FLAG(std::string, prompt, "", "generate/submit: the text to generate a video for.");
ABSL_FLAG(std::string, negative_prompt, "", "generate/submit: text to steer away from.");
ABSL_FLAG(std::string, model, "", "generate/submit: model name (default: the server's).");
ABSL_FLAG(int, height, 0, "generate/submit: height in pixels, a multiple of 16 (default 480).");
ABSL_FLAG(int, width, 0, "generate/submit: width in pixels, a multiple of 16 (default 832).");
ABSL_FLAG(int, frames, 0, "generate/submit: frames, 4k+1 (default 81).");
ABSL_FLAG(int, fps, 0, "generate/submit: MP4 frame rate (default 16).");
ABSL_FLAG(int, steps, 0, "generate/submit: denoising steps (default 50).");
ABSL_FLAG(double, guidance_scale, 0, "generate/submit: guidance scale (default 5).");
ABSL_FLAG(int64_t, seed, -1, "generate/submit: noise seed (default: the server draws one).");
ABSL_FLAG(double, budget, 0, "generate/submit: token budget in (0, 1]; 1 = dense (default).");
ABSL_FLAG(std::string, acceleration, "",
          "generate/submit: a baseline acceleration instead of a budget, e.g. pab or "
          "toca(reuse=0.85) (engine/accel/README.md).");
ABSL_FLAG(int, priority, 0, "generate/submit: priority in [-10, 10].");
ABSL_FLAG(std::string, format, "", "generate/submit: mp4 (default) or raw (RGB frames).");
ABSL_FLAG(std::string, idempotency_key, "", "generate/submit: key making retries safe.");
ABSL_FLAG(std::string, output, "",
          "generate/fetch: file to write the video to (through PATH.tmp and a rename).");
ABSL_FLAG(std::string, state, "",
          "jobs: only these states, comma-separated (queued,running,succeeded,failed,cancelled).");
ABSL_FLAG(int, page_size, 20, "jobs: jobs per page.");
ABSL_FLAG(bool, all_pages, false, "jobs: list every page, not only the first.");
ABSL_FLAG(int64_t, version, 0, "schedules get: the version (default: the latest).");
ABSL_FLAG(std::string, budgets, "", "searches submit: budgets to search, comma-separated.");
ABSL_FLAG(int, population, 0, "searches submit: candidates per generation (default 50).");
ABSL_FLAG(int, generations, 0, "searches submit: generations (default 30).");
ABSL_FLAG(int, parents, 0, "searches submit: parents kept per generation (default 10).");

namespace videogen::cli {
namespace {

using ::videogen::v1::VideoGeneration;
using ::videogen::v1::VideoJob;

constexpr char kUsage[] =
    "Usage: videogen [--server=HOST:PORT] [--timeout_s=N] [--admin_token_file=PATH] COMMAND\n"
    "Commands:\n"
    "  info                  print the server's versions, devices and models\n"
    "  health                check that the server (or --service) is serving\n"
    "  generate --prompt=TEXT --output=PATH [spec flags]\n"
    "                        generate a video, showing progress on stderr, write it to PATH\n"
    "                        (size and SHA-256 checked) and print the record and a summary;\n"
    "                        Ctrl-C cancels the job\n"
    "  submit --prompt=TEXT [spec flags]\n"
    "                        queue a job and print its id\n"
    "  get JOB_ID            print a job's record\n"
    "  watch JOB_ID          follow a job's progress until it finishes (exit 0 if it succeeded)\n"
    "  cancel JOB_ID         cancel a job and print its state\n"
    "  fetch JOB_ID --output=PATH\n"
    "                        download a succeeded job's video (size and SHA-256 checked)\n"
    "  jobs [--state=S,...] [--page_size=N] [--all_pages]\n"
    "                        list jobs, newest first (admin)\n"
    "  schedules list [--model --height --width --frames --steps]\n"
    "  schedules get ID [--version=N]\n"
    "  schedules lookup --model --height --width --frames --steps [--budget]\n"
    "  schedules export          print every schedule as JSON\n"
    "  schedules import FILE     store the schedules of an export (admin)\n"
    "  schedules delete ID       delete a schedule, all versions (admin)\n"
    "  searches submit --model --height --width --frames --steps --budgets=B,...\n"
    "                  [--population --generations --parents --seed]   (admin)\n"
    "  searches get|watch ID, searches cancel ID (admin), searches list\n"
    "Spec flags: --negative_prompt --model --height --width --frames --fps --steps\n"
    "  --guidance_scale --seed --budget --priority --format=mp4|raw --idempotency_key\n"
    "Admin calls need --admin_token_file=PATH or $VIDEOGEN_ADMIN_TOKEN.\n"
    "Exit status: 0 ok, 1 server error or unreachable or job not succeeded, 2 bad usage,\n"
    "  130 interrupted.\n";

// The admin token sent with every call ("" for none); main() sets it before any call.
std::string& AdminToken() {
  static auto* const token = new std::string;
  return *token;
}

constexpr int kDefaultTimeoutS = 10;

// The deadline of a call in seconds: --timeout_s, else kDefaultTimeoutS.
int TimeoutS() { return absl::GetFlag(FLAGS_timeout_s).value_or(kDefaultTimeoutS); }

// Whether the streams of generate, watch and fetch get a deadline: only if the user gave
// --timeout_s, since a video can take far longer than a unary call.
bool StreamDeadline() { return absl::GetFlag(FLAGS_timeout_s).has_value(); }

// A call context with the admin token and, if `deadline`, the --timeout_s deadline.
std::unique_ptr<grpc::ClientContext> Context(bool deadline = true) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (deadline) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(TimeoutS()));
  }
  if (!AdminToken().empty()) context->AddMetadata("authorization", "Bearer " + AdminToken());
  return context;
}

// Reports an error of the server (or of reaching it). Returns exit status 1.
int Fail(const grpc::Status& status) {
  const std::string server = absl::GetFlag(FLAGS_server);
  const std::string message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      std::fprintf(stderr, "videogen: cannot reach the server at %s: %s\n", server.c_str(),
                   message.c_str());
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::fprintf(stderr, "videogen: the call to %s did not finish within %ds (--timeout_s)\n",
                   server.c_str(), TimeoutS());
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      std::fprintf(stderr,
                   "videogen: %s (an admin call: pass --admin_token_file=PATH or set "
                   "VIDEOGEN_ADMIN_TOKEN)\n",
                   message.c_str());
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      std::fprintf(stderr, "videogen: %s (check --admin_token_file or VIDEOGEN_ADMIN_TOKEN)\n",
                   message.c_str());
      break;
    default:
      std::fprintf(
          stderr, "videogen: %s (%s)\n", message.c_str(),
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str());
      break;
  }
  return 1;
}

// Reports a local error: exit status 2 for INVALID_ARGUMENT (bad usage), else 1.
int Fail(const absl::Status& status) {
  std::fprintf(stderr, "videogen: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

int Info(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = VideoGeneration::NewStub(channel);
  videogen::v1::GetServerInfoResponse info;
  const grpc::Status status = stub->GetServerInfo(Context().get(), {}, &info);
  if (!status.ok()) return Fail(status);
  std::printf("server   %s (engine %s, torch %s)\n", info.server_version().c_str(),
              info.engine_version().c_str(), info.torch_version().c_str());
  std::printf("cuda     %s, %d device(s)%s%s\n",
              info.cuda_available() ? "available" : "unavailable", info.device_count(),
              info.device_names().empty() ? "" : ": ",
              absl::StrJoin(info.device_names(), ", ").c_str());
  if (info.models().empty()) std::printf("models   none configured\n");
  for (const auto& model : info.models()) {
    std::printf("model    %s%s (%s)\n", model.name().c_str(),
                model.name() == info.default_model() ? " [default]" : "",
                model.ready() ? "ready" : "not ready");
  }
  return 0;
}

int Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  const std::string name = request.service().empty() ? "server" : request.service();
  std::printf("%s: %s\n", name.c_str(),
              grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

// Ctrl-C for the long calls (generate, watch, fetch). SIGINT is blocked in every thread (Start()
// runs before gRPC starts any, and threads inherit the mask) and taken by one thread with
// sigwait(), which cancels the watched call outside signal context. A second Ctrl-C exits at
// once with status 130.
class Interrupts {
 public:
  // Blocks SIGINT and starts the thread that waits for it. Call once, before any other thread
  // exists. The object lives until the process exits.
  static Interrupts& Start() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto* const interrupts = new Interrupts;
    std::thread([interrupts, signals] { interrupts->Wait(signals); }).detach();
    return *interrupts;
  }

  // Whether Ctrl-C was pressed.
  bool interrupted() const {
    absl::MutexLock lock(&mu_);
    return interrupted_;
  }

  // Cancels `context` on Ctrl-C (at once if it was pressed already), until Forget().
  void Watch(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    context_ = context;
    if (interrupted_) context_->TryCancel();
  }

  // Stops cancelling the context of Watch(); call before destroying it.
  void Forget() {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }

 private:
  Interrupts() = default;

  void Wait(sigset_t signals) {
    while (true) {
      int signal_number = 0;
      if (sigwait(&signals, &signal_number) != 0) continue;
      absl::MutexLock lock(&mu_);
      if (interrupted_) std::_Exit(130);
      interrupted_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
  }

  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

// Watches a call context for Ctrl-C for the lifetime of this object (declare it after the
// context).
class CancelOnInterrupt {
 public:
  CancelOnInterrupt(Interrupts& interrupts, grpc::ClientContext* context)
      : interrupts_(interrupts) {
    interrupts_.Watch(context);
  }
  CancelOnInterrupt(const CancelOnInterrupt&) = delete;
  CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;
  ~CancelOnInterrupt() { interrupts_.Forget(); }

 private:
  Interrupts& interrupts_;
};

// What reading a Generate or WatchJob stream to its end produced.
struct FollowedJob {
  grpc::Status status;  // The call's; DATA_LOSS if it ended OK without a result.
  std::string job_id;   // From the first event; empty if none came.
  bool deduplicated = false;
  std::optional<VideoJob> result;  // The final record, if the stream delivered it.
};

// Reads a Generate or WatchJob stream to its end, rendering its events on stderr.
FollowedJob Follow(grpc::ClientReader<videogen::v1::JobEvent>& reader) {
  FollowedJob followed;
  JobEventRenderer renderer(isatty(STDERR_FILENO) == 1);
  videogen::v1::JobEvent event;
  while (reader.Read(&event)) {
    if (followed.job_id.empty()) followed.job_id = event.job_id();
    if (event.has_accepted()) followed.deduplicated = event.accepted().deduplicated();
    if (event.has_result()) followed.result = event.result();
    std::fputs(renderer.Render(event, absl::Now()).c_str(), stderr);
  }
  std::fputs(renderer.Finish().c_str(), stderr);
  followed.status = reader.Finish();
  if (followed.status.ok() && !followed.result.has_value()) {
    followed.status =
        grpc::Status(grpc::StatusCode::DATA_LOSS, "the job's stream ended without its result");
  }
  return followed;
}

// Creates the atomic writer of --output; a missing flag or an unwritable path is bad usage.
absl::StatusOr<std::unique_ptr<AtomicFileWriter>> OutputWriter() {
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) return absl::InvalidArgumentError("--output=PATH is required");
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = AtomicFileWriter::Create(output);
  if (!writer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--output: ", std::string(writer.status().message())));
  }
  return writer;
}

// Streams the result of `job` (a SUCCEEDED record) into `writer` and commits it, checked against
// the record's size and SHA-256. Returns the exit status (130 after Ctrl-C).
int Download(VideoGeneration::Stub& stub, const VideoJob& job, AtomicFileWriter& writer,
             Interrupts& interrupts) {
  auto context = Context(StreamDeadline());
  const CancelOnInterrupt cancel(interrupts, context.get());
  videogen::v1::FetchVideoRequest request;
  request.set_job_id(job.id());
  auto reader = stub.FetchVideo(context.get(), request);
  videogen::v1::VideoChunk chunk;
  absl::Status appended;
  while (appended.ok() && reader->Read(&chunk)) appended = AppendChunk(chunk, writer);
  if (!appended.ok()) context->TryCancel();
  const grpc::Status status = reader->Finish();
  if (interrupts.interrupted()) {
    std::fprintf(stderr, "videogen: interrupted; %s not written\n",
                 absl::GetFlag(FLAGS_output).c_str());
    return 130;
  }
  if (!appended.ok()) return Fail(appended);
  if (!status.ok()) return Fail(status);
  if (const absl::Status committed =
          writer.Commit(job.output().size_bytes(), job.output().sha256());
      !committed.ok()) {
    return Fail(committed);
  }
  return 0;
}

absl::StatusOr<videogen::v1::VideoJobSpec> SpecFromFlags() {
  SpecValues values;
  values.prompt = absl::GetFlag(FLAGS_prompt);
  values.negative_prompt = absl::GetFlag(FLAGS_negative_prompt);
  values.model = absl::GetFlag(FLAGS_model);
  values.format = absl::GetFlag(FLAGS_format);
  values.idempotency_key = absl::GetFlag(FLAGS_idempotency_key);
  values.height = absl::GetFlag(FLAGS_height);
  values.width = absl::GetFlag(FLAGS_width);
  values.frames = absl::GetFlag(FLAGS_frames);
  values.fps = absl::GetFlag(FLAGS_fps);
  values.steps = absl::GetFlag(FLAGS_steps);
  values.priority = absl::GetFlag(FLAGS_priority);
  values.guidance_scale = absl::GetFlag(FLAGS_guidance_scale);
  values.budget = absl::GetFlag(FLAGS_budget);
  values.acceleration = absl::GetFlag(FLAGS_acceleration);
  values.seed = absl::GetFlag(FLAGS_seed);
  return BuildSpec(values);
}

// `generate`: runs a job over the Generate stream, then fetches its video to --output. The
// record goes to stdout, progress and the summary line to stderr.
int Generate(VideoGeneration::Stub& stub, Interrupts& interrupts) {
  absl::StatusOr<videogen::v1::VideoJobSpec> spec = SpecFromFlags();
  if (!spec.ok()) return Fail(spec.status());
  // Created before the job runs, so that an unwritable --output fails at once.
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = OutputWriter();
  if (!writer.ok()) return Fail(writer.status());
  videogen::v1::GenerateRequest request;
  *request.mutable_spec() = *std::move(spec);
  FollowedJob followed;
  {
    auto context = Context(StreamDeadline());
    const CancelOnInterrupt cancel(interrupts, context.get());
    auto reader = stub.Generate(context.get(), request);
    followed = Follow(*reader);
  }
  if (interrupts.interrupted()) {
    if (followed.deduplicated) {
      std::fprintf(stderr,
                   "videogen: interrupted; job %s was submitted earlier with this idempotency "
                   "key and keeps running (videogen cancel %s stops it)\n",
                   followed.job_id.c_str(), followed.job_id.c_str());
    } else if (!followed.job_id.empty()) {
      std::fprintf(stderr, "videogen: interrupted; job %s is cancelled\n", followed.job_id.c_str());
    } else {
      std::fprintf(stderr, "videogen: interrupted; the call is cancelled, with its job\n");
    }
    return 130;
  }
  if (!followed.status.ok()) return Fail(followed.status);
  const VideoJob& job = *followed.result;
  std::fputs(DescribeJob(job).c_str(), stdout);
  std::fflush(stdout);
  if (job.state() != videogen::v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "videogen: %s\n", FailureLine(job).c_str());
    return 1;
  }
  if (const int rc = Download(stub, job, **writer, interrupts); rc != 0) return rc;
  std::fprintf(stderr, "%s\n", SummaryLine(job, absl::GetFlag(FLAGS_output)).c_str());
  return 0;
}

// `watch JOB_ID`: follows the job to its end and prints its final record.
int Watch(VideoGeneration::Stub& stub, const std::string& id, Interrupts& interrupts) {
  videogen::v1::WatchJobRequest request;
  request.set_job_id(id);
  FollowedJob followed;
  {
    auto context = Context(StreamDeadline());
    const CancelOnInterrupt cancel(interrupts, context.get());
    auto reader = stub.WatchJob(context.get(), request);
    followed = Follow(*reader);
  }
  if (interrupts.interrupted()) {
    std::fprintf(stderr, "videogen: interrupted; job %s keeps running\n", id.c_str());
    return 130;
  }
  if (!followed.status.ok()) return Fail(followed.status);
  std::fputs(DescribeJob(*followed.result).c_str(), stdout);
  if (followed.result->state() != videogen::v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "videogen: %s\n", FailureLine(*followed.result).c_str());
    return 1;
  }
  return 0;
}

// `fetch JOB_ID`: downloads a succeeded job's video to --output.
int Fetch(VideoGeneration::Stub& stub, const std::string& id, Interrupts& interrupts) {
  if (absl::GetFlag(FLAGS_output).empty()) {
    return Fail(absl::InvalidArgumentError("--output=PATH is required"));
  }
  // The record first: it says whether there is a video, and its size and SHA-256.
  videogen::v1::GetJobRequest get;
  get.set_job_id(id);
  videogen::v1::GetJobResponse response;
  if (const grpc::Status status = stub.GetJob(Context().get(), get, &response); !status.ok()) {
    return Fail(status);
  }
  const VideoJob& job = response.job();
  if (job.state() != videogen::v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "videogen: %s; only a succeeded job has a video\n",
                 FailureLine(job).c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = OutputWriter();
  if (!writer.ok()) return Fail(writer.status());
  if (const int rc = Download(stub, job, **writer, interrupts); rc != 0) return rc;
  std::fprintf(stderr, "wrote %s (%lld bytes, SHA-256 checked)\n",
               absl::GetFlag(FLAGS_output).c_str(),
               static_cast<long long>(job.output().size_bytes()));
  return 0;
}

// `submit`: prints only the new job's id on stdout.
int Submit(VideoGeneration::Stub& stub) {
  absl::StatusOr<videogen::v1::VideoJobSpec> spec = SpecFromFlags();
  if (!spec.ok()) return Fail(spec.status());
  videogen::v1::SubmitJobRequest request;
  *request.mutable_spec() = *std::move(spec);
  videogen::v1::SubmitJobResponse response;
  if (const grpc::Status status = stub.SubmitJob(Context().get(), request, &response);
      !status.ok()) {
    return Fail(status);
  }
  if (response.deduplicated()) {
    std::fprintf(stderr, "videogen: an existing job has this idempotency key and spec (%s)\n",
                 StateName(response.job().state()).c_str());
  }
  std::printf("%s\n", response.job().id().c_str());
  return 0;
}

int Get(VideoGeneration::Stub& stub, const std::string& id) {
  videogen::v1::GetJobRequest request;
  request.set_job_id(id);
  videogen::v1::GetJobResponse response;
  if (const grpc::Status status = stub.GetJob(Context().get(), request, &response); !status.ok()) {
    return Fail(status);
  }
  std::fputs(DescribeJob(response.job()).c_str(), stdout);
  return 0;
}

int Cancel(VideoGeneration::Stub& stub, const std::string& id) {
  videogen::v1::CancelJobRequest request;
  request.set_job_id(id);
  videogen::v1::CancelJobResponse response;
  if (const grpc::Status status = stub.CancelJob(Context().get(), request, &response);
      !status.ok()) {
    return Fail(status);
  }
  const bool stopping = response.job().state() == videogen::v1::JOB_STATE_RUNNING;
  std::printf(
      "%s: %s\n", id.c_str(),
      stopping ? "cancelling (stops at the next step)" : StateName(response.job().state()).c_str());
  return 0;
}

// `jobs` (admin): one line per job, newest first.
int Jobs(VideoGeneration::Stub& stub) {
  absl::StatusOr<std::vector<videogen::v1::JobState>> states =
      ParseStates(absl::GetFlag(FLAGS_state));
  if (!states.ok()) return Fail(states.status());
  videogen::v1::ListJobsRequest request;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  for (const videogen::v1::JobState state : *states) request.add_states(state);
  bool header = false;
  do {
    videogen::v1::ListJobsResponse response;
    if (const grpc::Status status = stub.ListJobs(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    if (!header) std::printf("%s\n", JobListHeader().c_str());
    header = true;
    for (const auto& job : response.jobs()) std::printf("%s\n", JobListLine(job).c_str());
    request.set_page_token(response.next_page_token());
  } while (absl::GetFlag(FLAGS_all_pages) && !request.page_token().empty());
  return 0;
}

videogen::v1::ScheduleKey KeyFromFlags() {
  videogen::v1::ScheduleKey key;
  key.set_model_id(absl::GetFlag(FLAGS_model));
  key.set_height(absl::GetFlag(FLAGS_height));
  key.set_width(absl::GetFlag(FLAGS_width));
  key.set_frames(absl::GetFlag(FLAGS_frames));
  key.set_steps(absl::GetFlag(FLAGS_steps));
  return key;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return;
  std::fputs(json.c_str(), stdout);
}

// `schedules SUBCOMMAND [ARG]`.
int Schedules(const std::shared_ptr<grpc::Channel>& channel, const std::vector<char*>& args) {
  auto stub = videogen::v1::ScheduleRegistry::NewStub(channel);
  const std::string sub = args.size() > 2 ? args[2] : "";
  const bool takes_arg = sub == "get" || sub == "import" || sub == "delete";
  if (args.size() != (takes_arg ? 4u : 3u)) {
    return Fail(absl::InvalidArgumentError(
        "usage: schedules list|get ID|lookup|export|import FILE|delete ID"));
  }
  const std::string arg = takes_arg ? args[3] : "";
  if (sub == "list" || sub == "export") {
    videogen::v1::ListSchedulesRequest request;
    request.set_page_size(1000);
    if (sub == "list") *request.mutable_key() = KeyFromFlags();
    videogen::v1::ListSchedulesResponse all;
    do {
      videogen::v1::ListSchedulesResponse page;
      if (const grpc::Status status = stub->ListSchedules(Context().get(), request, &page);
          !status.ok()) {
        return Fail(status);
      }
      for (auto& schedule : *page.mutable_schedules()) *all.add_schedules() = std::move(schedule);
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    if (sub == "export") {
      PrintJson(all);
      return 0;
    }
    std::printf("%-32s  %-4s  %-24s  %-6s  %-8s  %-8s  %s\n", "ID", "VER", "KEY", "BUDGET",
                "SEARCHED", "SPEEDUP", "FITNESS");
    for (const auto& schedule : all.schedules()) {
      const auto& key = schedule.key();
      std::printf("%-32s  %-4lld  %-24s  %-6.2f  %-8s  %-8.2f  %g\n", schedule.id().c_str(),
                  static_cast<long long>(schedule.version()),
                  absl::StrCat(key.model_id(), " ", key.width(), "x", key.height(), "x",
                               key.frames(), "/", key.steps())
                      .c_str(),
                  schedule.budget(), schedule.searched() ? "yes" : "no",
                  schedule.predicted_speedup(), schedule.provenance().fitness_mse());
    }
    return 0;
  }
  if (sub == "get") {
    videogen::v1::GetScheduleRequest request;
    request.set_id(arg);
    request.set_version(absl::GetFlag(FLAGS_version));
    videogen::v1::GetScheduleResponse response;
    if (const grpc::Status status = stub->GetSchedule(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    PrintJson(response.schedule());
    return 0;
  }
  if (sub == "lookup") {
    videogen::v1::LookupScheduleRequest request;
    *request.mutable_key() = KeyFromFlags();
    request.set_budget(static_cast<float>(absl::GetFlag(FLAGS_budget)));
    videogen::v1::LookupScheduleResponse response;
    if (const grpc::Status status = stub->LookupSchedule(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    PrintJson(response);
    return 0;
  }
  if (sub == "import") {
    std::ifstream file(arg);
    if (!file) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", arg)));
    const std::string json((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    videogen::v1::ListSchedulesResponse all;
    if (const auto parsed = google::protobuf::util::JsonStringToMessage(json, &all); !parsed.ok()) {
      return Fail(
          absl::InvalidArgumentError(absl::StrCat(arg, ": ", std::string(parsed.message()))));
    }
    for (const auto& schedule : all.schedules()) {
      videogen::v1::PutScheduleRequest request;
      *request.mutable_schedule() = schedule;
      videogen::v1::PutScheduleResponse response;
      if (const grpc::Status status = stub->PutSchedule(Context().get(), request, &response);
          !status.ok()) {
        return Fail(status);
      }
      std::printf("%s version %lld\n", response.schedule().id().c_str(),
                  static_cast<long long>(response.schedule().version()));
    }
    return 0;
  }
  if (sub == "delete") {
    videogen::v1::DeleteScheduleRequest request;
    request.set_id(arg);
    videogen::v1::DeleteScheduleResponse response;
    if (const grpc::Status status = stub->DeleteSchedule(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    std::printf("deleted %s\n", arg.c_str());
    return 0;
  }
  return Fail(absl::InvalidArgumentError(absl::StrCat("unknown schedules command '", sub, "'")));
}

std::string DescribeSearch(const videogen::v1::SearchJob& search) {
  std::string out = absl::StrCat(
      "search   ", search.id(), "\nstate    ",
      absl::AsciiStrToLower(videogen::v1::SearchState_Name(search.state()).substr(13)), "\n");
  if (search.has_progress()) {
    const auto& p = search.progress();
    absl::StrAppend(&out, "progress budget ", p.budget(), ", generation ", p.generation(), "/",
                    p.total_generations() - 1, ", best MSE ", p.best_fitness_mse(), ", ",
                    p.evaluations_done(), "/", p.evaluations_total(), " evaluations\n");
  }
  for (const auto& r : search.results()) {
    absl::StrAppend(&out, "result   budget ", r.budget(), ": schedule ", r.schedule_id(),
                    " version ", r.schedule_version(), ", MSE ", r.fitness_mse(), " (fallback ",
                    r.fallback_fitness_mse(), ")\n");
  }
  if (search.error_code() != 0) absl::StrAppend(&out, "error    ", search.error_message(), "\n");
  return out;
}

// `searches SUBCOMMAND [ID]`.
int Searches(const std::shared_ptr<grpc::Channel>& channel, const std::vector<char*>& args) {
  auto stub = videogen::v1::ScheduleSearch::NewStub(channel);
  const std::string sub = args.size() > 2 ? args[2] : "";
  const bool takes_id = sub == "get" || sub == "watch" || sub == "cancel";
  if (args.size() != (takes_id ? 4u : 3u)) {
    return Fail(
        absl::InvalidArgumentError("usage: searches submit|get ID|watch ID|cancel ID|list"));
  }
  const std::string id = takes_id ? args[3] : "";
  if (sub == "submit") {
    videogen::v1::SubmitSearchRequest request;
    auto* spec = request.mutable_spec();
    *spec->mutable_key() = KeyFromFlags();
    for (const absl::string_view text :
         absl::StrSplit(absl::GetFlag(FLAGS_budgets), ',', absl::SkipEmpty())) {
      float budget;
      if (!absl::SimpleAtof(text, &budget)) {
        return Fail(absl::InvalidArgumentError(absl::StrCat("--budgets: bad value ", text)));
      }
      spec->add_budgets(budget);
    }
    auto* evolution = spec->mutable_evolution();
    evolution->set_population_size(absl::GetFlag(FLAGS_population));
    evolution->set_generations(absl::GetFlag(FLAGS_generations));
    evolution->set_parents(absl::GetFlag(FLAGS_parents));
    if (absl::GetFlag(FLAGS_seed) >= 0) evolution->set_seed(absl::GetFlag(FLAGS_seed));
    videogen::v1::SubmitSearchResponse response;
    if (const grpc::Status status = stub->SubmitSearch(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    std::printf("%s\n", response.search().id().c_str());
    return 0;
  }
  if (sub == "get" || sub == "cancel") {
    videogen::v1::SearchJob search;
    grpc::Status status;
    if (sub == "get") {
      videogen::v1::GetSearchRequest request;
      request.set_search_id(id);
      videogen::v1::GetSearchResponse response;
      status = stub->GetSearch(Context().get(), request, &response);
      search = response.search();
    } else {
      videogen::v1::CancelSearchRequest request;
      request.set_search_id(id);
      videogen::v1::CancelSearchResponse response;
      status = stub->CancelSearch(Context().get(), request, &response);
      search = response.search();
    }
    if (!status.ok()) return Fail(status);
    std::fputs(DescribeSearch(search).c_str(), stdout);
    return 0;
  }
  if (sub == "watch") {
    auto context = Context(/*deadline=*/false);
    videogen::v1::WatchSearchRequest request;
    request.set_search_id(id);
    auto reader = stub->WatchSearch(context.get(), request);
    videogen::v1::SearchEvent event;
    videogen::v1::SearchJob final;
    while (reader->Read(&event)) {
      if (event.has_progress()) {
        const auto& p = event.progress();
        std::fprintf(stderr, "budget %g generation %d/%d best MSE %g (%lld/%lld evaluations)\n",
                     p.budget(), p.generation(), p.total_generations() - 1, p.best_fitness_mse(),
                     static_cast<long long>(p.evaluations_done()),
                     static_cast<long long>(p.evaluations_total()));
      }
      if (event.has_result()) final = event.result();
    }
    if (const grpc::Status status = reader->Finish(); !status.ok()) return Fail(status);
    std::fputs(DescribeSearch(final).c_str(), stdout);
    return final.state() == videogen::v1::SEARCH_STATE_SUCCEEDED ? 0 : 1;
  }
  if (sub == "list") {
    videogen::v1::ListSearchesRequest request;
    request.set_page_size(absl::GetFlag(FLAGS_page_size));
    videogen::v1::ListSearchesResponse response;
    if (const grpc::Status status = stub->ListSearches(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    for (const auto& search : response.searches()) {
      std::printf(
          "%s  %-9s  %s\n", search.id().c_str(),
          absl::AsciiStrToLower(videogen::v1::SearchState_Name(search.state()).substr(13)).c_str(),
          search.spec().key().ShortDebugString().c_str());
    }
    return 0;
  }
  return Fail(absl::InvalidArgumentError(absl::StrCat("unknown searches command '", sub, "'")));
}

}  // namespace
}  // namespace videogen::cli

int main(int argc, char** argv) {
  using ::videogen::cli::Fail;
  absl::SetProgramUsageMessage(videogen::cli::kUsage);
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::fputs(videogen::cli::kUsage, stderr);
    return 2;
  }
  const std::string command = args[1];
  const bool takes_id =
      command == "get" || command == "watch" || command == "cancel" || command == "fetch";
  const bool known = takes_id || command == "info" || command == "health" ||
                     command == "generate" || command == "submit" || command == "jobs" ||
                     command == "schedules" || command == "searches";
  if (!known) {
    std::fprintf(stderr, "videogen: unknown command '%s'\n%s", command.c_str(),
                 videogen::cli::kUsage);
    return 2;
  }
  if (command != "schedules" && command != "searches" && args.size() != (takes_id ? 3u : 2u)) {
    std::fprintf(stderr, "videogen: %s takes %s\n%s", command.c_str(),
                 takes_id ? "one JOB_ID" : "no arguments", videogen::cli::kUsage);
    return 2;
  }
  if (videogen::cli::TimeoutS() <= 0) {
    return Fail(absl::InvalidArgumentError("--timeout_s must be positive"));
  }
  absl::StatusOr<std::string> token = videogen::cli::ReadAdminToken(
      absl::GetFlag(FLAGS_admin_token_file), std::getenv("VIDEOGEN_ADMIN_TOKEN"));
  if (!token.ok()) return Fail(token.status());
  videogen::cli::AdminToken() = *std::move(token);
  // Before the channel: gRPC's threads must inherit the blocked SIGINT.
  videogen::cli::Interrupts* const interrupts =
      command == "generate" || command == "watch" || command == "fetch"
          ? &videogen::cli::Interrupts::Start()
          : nullptr;

  const auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  if (command == "info") return videogen::cli::Info(channel);
  if (command == "health") return videogen::cli::Health(channel);
  if (command == "schedules") return videogen::cli::Schedules(channel, args);
  if (command == "searches") return videogen::cli::Searches(channel, args);
  auto stub = videogen::v1::VideoGeneration::NewStub(channel);
  const std::string id = takes_id ? args[2] : "";
  if (command == "generate") return videogen::cli::Generate(*stub, *interrupts);
  if (command == "watch") return videogen::cli::Watch(*stub, id, *interrupts);
  if (command == "fetch") return videogen::cli::Fetch(*stub, id, *interrupts);
  if (command == "submit") return videogen::cli::Submit(*stub);
  if (command == "get") return videogen::cli::Get(*stub, id);
  if (command == "cancel") return videogen::cli::Cancel(*stub, id);
  return videogen::cli::Jobs(*stub);
}
