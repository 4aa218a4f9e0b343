// videogen: command-line client of the videogen server.
//
//   videogen [--server=HOST:PORT] [--timeout_s=N] [--admin_token_file=PATH] COMMAND [JOB_ID]
//
// Commands: info, health, generate, submit, get, watch, cancel, fetch, jobs, schedules, searches
// (see kUsage).
// Exit status: 0 success, 1 the server answered with an error, could not be reached, or the job
// did not succeed (the reason is printed), 2 bad usage, 130 interrupted (Ctrl-C cancels the
// generate call, and with it the job). `health` exits 0 only if the service is SERVING.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/grpc_health_v1.grpc.pb.h"
#include "proto/videogen_service.grpc.pb.h"
#include "server/cli/client_util.h"

ABSL_FLAG(std::string, server, "localhost:50051", "Address of the videogen server, HOST:PORT.");
ABSL_FLAG(int, timeout_s, 10, "Deadline of each call, in seconds.");
ABSL_FLAG(std::string, service, "",
          "health: the service to ask about, e.g. videogen.v1.VideoGeneration (empty: the "
          "server as a whole).");

ABSL_FLAG(std::string, admin_token_file, "",
          "File holding the admin token, sent as \"authorization: Bearer <token>\" (needed by "
          "`jobs`). Default: $VIDEOGEN_ADMIN_TOKEN, if set.");
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
ABSL_FLAG(int, priority, 0, "generate/submit: priority in [-10, 10].");
ABSL_FLAG(std::string, format, "", "generate/submit: mp4 (default) or raw (RGB frames).");
ABSL_FLAG(std::string, idempotency_key, "", "generate/submit: key making retries safe.");
ABSL_FLAG(std::string, output, "", "generate/fetch: file to write the video to.");
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

constexpr char kUsage[] =
    "Usage: videogen [--server=HOST:PORT] [--timeout_s=N] [--admin_token_file=PATH] COMMAND\n"
    "Commands:\n"
    "  info                  print the server's versions, devices and models\n"
    "  health                check that the server (or --service) is serving\n"
    "  generate --prompt=TEXT --output=PATH [spec flags]\n"
    "                        generate a video, showing progress, and write it to PATH\n"
    "  submit --prompt=TEXT [spec flags]\n"
    "                        queue a job and print its id\n"
    "  get JOB_ID            print a job's record\n"
    "  watch JOB_ID          follow a job's progress until it finishes\n"
    "  cancel JOB_ID         cancel a job\n"
    "  fetch JOB_ID --output=PATH\n"
    "                        download a finished job's video\n"
    "  jobs [--state=S,...] [--page_size=N] [--all_pages]\n"
    "                        list jobs (admin)\n"
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
    "  --guidance_scale --seed --budget --priority --format=mp4|raw --idempotency_key\n";

std::string AdminToken() {
  std::string token;
  if (const std::string path = absl::GetFlag(FLAGS_admin_token_file); !path.empty()) {
    std::ifstream file(path);
    std::getline(file, token);
  } else if (const char* env = std::getenv("VIDEOGEN_ADMIN_TOKEN"); env != nullptr) {
    token = env;
  }
  return std::string(absl::StripAsciiWhitespace(token));
}

// A call context with the admin token and, if `deadline`, the --timeout_s deadline.
std::unique_ptr<grpc::ClientContext> Context(bool deadline = true) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (deadline) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s)));
  }
  if (const std::string token = AdminToken(); !token.empty()) {
    context->AddMetadata("authorization", "Bearer " + token);
  }
  return context;
}

int Fail(const grpc::Status& status) {
  const std::string server = absl::GetFlag(FLAGS_server);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr, "videogen: cannot reach the server at %s: %s\n", server.c_str(),
                 status.error_message().c_str());
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::fprintf(stderr, "videogen: no answer from %s within %ds\n", server.c_str(),
                 absl::GetFlag(FLAGS_timeout_s));
  } else {
    std::fprintf(stderr, "videogen: %s (code %d)\n", status.error_message().c_str(),
                 static_cast<int>(status.error_code()));
  }
  return 1;
}

int Info(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = videogen::v1::VideoGeneration::NewStub(channel);
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

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "videogen: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

// Ctrl-C cancels `context` (and so the server-side job of a Generate call). Returns the flag set
// when that happened. SIGINT is blocked in every thread; one detached thread waits for it.
std::shared_ptr<std::atomic<bool>> CancelOnInterrupt(grpc::ClientContext* context) {
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  pthread_sigmask(SIG_BLOCK, &interrupt, nullptr);
  auto interrupted = std::make_shared<std::atomic<bool>>(false);
  std::thread([interrupt, interrupted, context] {
    int signal_number = 0;
    if (sigwait(&interrupt, &signal_number) == 0) {
      *interrupted = true;
      context->TryCancel();
    }
  }).detach();
  return interrupted;
}

// Shows a job's events on stderr until the stream ends. Returns the final record, or the
// stream's error.
absl::StatusOr<videogen::v1::VideoJob> Follow(grpc::ClientReader<videogen::v1::JobEvent>* reader,
                                              grpc::Status* status) {
  const bool tty = isatty(STDERR_FILENO);
  auto last_line = std::chrono::steady_clock::now() - std::chrono::hours(1);
  bool progress_shown = false;
  auto end_progress = [&] {
    if (tty && progress_shown) std::fputc('\n', stderr);
    progress_shown = false;
  };
  videogen::v1::JobEvent event;
  std::optional<videogen::v1::VideoJob> result;
  while (reader->Read(&event)) {
    switch (event.event_case()) {
      case videogen::v1::JobEvent::kAccepted:
        std::fprintf(stderr, "job %s%s\n", event.job_id().c_str(),
                     event.accepted().deduplicated() ? " (existing job, same idempotency key)"
                                                     : "");
        break;
      case videogen::v1::JobEvent::kQueued:
        end_progress();
        std::fprintf(stderr, "queued, position %d\n", event.queued().position());
        break;
      case videogen::v1::JobEvent::kStageChanged: {
        end_progress();
        const std::string stage = absl::AsciiStrToLower(
            videogen::v1::JobStage_Name(event.stage_changed().stage()).substr(10));
        std::fprintf(stderr, "stage %s\n", stage.c_str());
        break;
      }
      case videogen::v1::JobEvent::kProgress: {
        const auto now = std::chrono::steady_clock::now();
        const bool last = event.progress().step() == event.progress().total_steps();
        if (tty) {
          std::fprintf(stderr, "\r%s\033[K", ProgressLine(event.progress()).c_str());
          progress_shown = true;
        } else if (last || now - last_line >= std::chrono::seconds(2)) {
          std::fprintf(stderr, "%s\n", ProgressLine(event.progress()).c_str());
          last_line = now;
        }
        break;
      }
      case videogen::v1::JobEvent::kResult:
        end_progress();
        result = event.result();
        break;
      default:
        break;
    }
  }
  end_progress();
  *status = reader->Finish();
  if (!status->ok()) return absl::UnknownError(status->error_message());
  if (!result.has_value()) return absl::DataLossError("the stream ended without a result");
  return *result;
}

// Downloads job `id`'s result to --output.
int Fetch(videogen::v1::VideoGeneration::Stub& stub, const std::string& id) {
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) return Fail(absl::InvalidArgumentError("--output=PATH is required"));
  auto context = Context(/*deadline=*/false);
  videogen::v1::FetchVideoRequest request;
  request.set_job_id(id);
  auto reader = stub.FetchVideo(context.get(), request);
  videogen::v1::VideoChunk chunk;
  std::string data;
  int64_t total = -1;
  while (reader->Read(&chunk)) {
    data += chunk.data();
    total = chunk.total_size();
  }
  if (const grpc::Status status = reader->Finish(); !status.ok()) return Fail(status);
  if (static_cast<int64_t>(data.size()) != total) {
    return Fail(absl::DataLossError(absl::StrCat("received ", data.size(), " of ", total, " bytes")));
  }
  // The record's hash, to check what arrived.
  auto get_context = Context();
  videogen::v1::GetJobRequest get;
  get.set_job_id(id);
  videogen::v1::GetJobResponse job;
  if (const grpc::Status status = stub.GetJob(get_context.get(), get, &job); !status.ok()) {
    return Fail(status);
  }
  if (const absl::Status written = WriteResult(output, data, job.job().output().sha256());
      !written.ok()) {
    return Fail(written);
  }
  std::fprintf(stderr, "wrote %s (%zu bytes)\n", output.c_str(), data.size());
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
  values.seed = absl::GetFlag(FLAGS_seed);
  return BuildSpec(values);
}

// generate and watch: follow the stream, then report (and for generate fetch) the result.
int FollowJob(videogen::v1::VideoGeneration::Stub& stub, bool generate, const std::string& id) {
  const auto start = std::chrono::steady_clock::now();
  auto context = Context(/*deadline=*/false);
  const auto interrupted = CancelOnInterrupt(context.get());
  std::unique_ptr<grpc::ClientReader<videogen::v1::JobEvent>> reader;
  if (generate) {
    absl::StatusOr<videogen::v1::VideoJobSpec> spec = SpecFromFlags();
    if (!spec.ok()) return Fail(spec.status());
    if (absl::GetFlag(FLAGS_output).empty()) {
      return Fail(absl::InvalidArgumentError("--output=PATH is required"));
    }
    videogen::v1::GenerateRequest request;
    *request.mutable_spec() = *std::move(spec);
    reader = stub.Generate(context.get(), request);
  } else {
    videogen::v1::WatchJobRequest request;
    request.set_job_id(id);
    reader = stub.WatchJob(context.get(), request);
  }
  grpc::Status status;
  absl::StatusOr<videogen::v1::VideoJob> job = Follow(reader.get(), &status);
  if (*interrupted) {
    std::fprintf(stderr, "videogen: interrupted%s\n", generate ? "; the job is cancelled" : "");
    return 130;
  }
  if (!status.ok()) return Fail(status);
  if (!job.ok()) return Fail(job.status());
  std::fputs(DescribeJob(*job).c_str(), stdout);
  if (job->state() != videogen::v1::JOB_STATE_SUCCEEDED) return 1;
  if (!generate) return 0;
  if (const int rc = Fetch(stub, job->id()); rc != 0) return rc;
  std::fprintf(stderr, "done in %.1fs\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

int Submit(videogen::v1::VideoGeneration::Stub& stub) {
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
    std::fprintf(stderr, "an existing job has this idempotency key and spec\n");
  }
  std::printf("%s\n", response.job().id().c_str());
  return 0;
}

int Get(videogen::v1::VideoGeneration::Stub& stub, const std::string& id) {
  videogen::v1::GetJobRequest request;
  request.set_job_id(id);
  videogen::v1::GetJobResponse response;
  if (const grpc::Status status = stub.GetJob(Context().get(), request, &response); !status.ok()) {
    return Fail(status);
  }
  std::fputs(DescribeJob(response.job()).c_str(), stdout);
  return 0;
}

int Cancel(videogen::v1::VideoGeneration::Stub& stub, const std::string& id) {
  videogen::v1::CancelJobRequest request;
  request.set_job_id(id);
  videogen::v1::CancelJobResponse response;
  if (const grpc::Status status = stub.CancelJob(Context().get(), request, &response);
      !status.ok()) {
    return Fail(status);
  }
  const bool stopping = response.job().state() == videogen::v1::JOB_STATE_RUNNING;
  std::printf("%s: %s\n", id.c_str(),
              stopping ? "cancelling (stops at the next step)"
                       : absl::AsciiStrToLower(
                             videogen::v1::JobState_Name(response.job().state()).substr(10))
                             .c_str());
  return 0;
}

int Jobs(videogen::v1::VideoGeneration::Stub& stub) {
  videogen::v1::ListJobsRequest request;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  for (const absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_state), ',', absl::SkipEmpty())) {
    videogen::v1::JobState state;
    if (!videogen::v1::JobState_Parse(absl::StrCat("JOB_STATE_", absl::AsciiStrToUpper(name)),
                                      &state)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--state: unknown state ", name)));
    }
    request.add_states(state);
  }
  std::printf("%-32s  %-9s  %-20s  %-7s  %-6s  %s\n", "JOB", "STATE", "CREATED", "STEPS",
              "BUDGET", "PROMPT");
  do {
    videogen::v1::ListJobsResponse response;
    if (const grpc::Status status = stub.ListJobs(Context().get(), request, &response);
        !status.ok()) {
      return Fail(status);
    }
    for (const auto& job : response.jobs()) {
      std::string prompt = job.spec().prompt().substr(0, 40);
      if (job.spec().prompt().size() > 40) prompt += "...";
      std::printf("%-32s  %-9s  %-20s  %3d/%-3d  %-6.2f  %s\n", job.id().c_str(),
                  absl::AsciiStrToLower(videogen::v1::JobState_Name(job.state()).substr(10)).c_str(),
                  google::protobuf::util::TimeUtil::ToString(job.create_time()).substr(0, 19).c_str(),
                  job.steps_done(), job.steps_total(), job.spec().budget(), prompt.c_str());
    }
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
    if (const auto parsed = google::protobuf::util::JsonStringToMessage(json, &all);
        !parsed.ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(arg, ": ", std::string(parsed.message()))));
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
                    " version ", r.schedule_version(), ", MSE ", r.fitness_mse(),
                    " (fallback ", r.fallback_fitness_mse(), ")\n");
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
    return Fail(absl::InvalidArgumentError("usage: searches submit|get ID|watch ID|cancel ID|list"));
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
      std::printf("%s  %-9s  %s\n", search.id().c_str(),
                  absl::AsciiStrToLower(
                      videogen::v1::SearchState_Name(search.state()).substr(13)).c_str(),
                  search.spec().key().ShortDebugString().c_str());
    }
    return 0;
  }
  return Fail(absl::InvalidArgumentError(absl::StrCat("unknown searches command '", sub, "'")));
}

}  // namespace
}  // namespace videogen::cli

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(videogen::cli::kUsage);
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::fputs(videogen::cli::kUsage, stderr);
    return 2;
  }
  const std::string command = args[1];
  const auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  auto stub = videogen::v1::VideoGeneration::NewStub(channel);
  if (command == "schedules") return videogen::cli::Schedules(channel, args);
  if (command == "searches") return videogen::cli::Searches(channel, args);
  const bool takes_id = command == "get" || command == "watch" || command == "cancel" ||
                        command == "fetch";
  if (args.size() != (takes_id ? 3u : 2u)) {
    std::fprintf(stderr, "videogen: %s takes %s\n%s", command.c_str(),
                 takes_id ? "one JOB_ID" : "no arguments", videogen::cli::kUsage);
    return 2;
  }
  const std::string id = takes_id ? args[2] : "";
  if (command == "info") return videogen::cli::Info(channel);
  if (command == "health") return videogen::cli::Health(channel);
  if (command == "generate") return videogen::cli::FollowJob(*stub, /*generate=*/true, "");
  if (command == "watch") return videogen::cli::FollowJob(*stub, /*generate=*/false, id);
  if (command == "submit") return videogen::cli::Submit(*stub);
  if (command == "get") return videogen::cli::Get(*stub, id);
  if (command == "cancel") return videogen::cli::Cancel(*stub, id);
  if (command == "fetch") return videogen::cli::Fetch(*stub, id);
  if (command == "jobs") return videogen::cli::Jobs(*stub);
  std::fprintf(stderr, "videogen: unknown command '%s'\n%s", command.c_str(),
               videogen::cli::kUsage);
  return 2;
}
