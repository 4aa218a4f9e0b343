#include "server/cli/client_util.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::cli {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

// SHA-256 of "abc".
constexpr char kAbcSha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

std::string ReadFile(const std::string& path) {
  std::stringstream content;
  content << std::ifstream(path, std::ios::binary).rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

videogen::v1::JobProgress Progress(int step, int total) {
  videogen::v1::JobProgress progress;
  progress.set_step(step);
  progress.set_total_steps(total);
  progress.set_tokens_computed(480);
  progress.set_dense_tokens(1000);
  *progress.mutable_eta() = TimeUtil::SecondsToDuration(13);
  return progress;
}

videogen::v1::JobEvent ProgressEvent(int step, int total) {
  videogen::v1::JobEvent event;
  *event.mutable_progress() = Progress(step, total);
  return event;
}

videogen::v1::VideoJob SucceededJob() {
  videogen::v1::VideoJob job;
  job.set_id("0123456789abcdef0123456789abcdef");
  job.set_state(videogen::v1::JOB_STATE_SUCCEEDED);
  job.mutable_spec()->set_prompt("a fox in the snow");
  job.mutable_spec()->set_budget(0.5f);
  job.set_steps_done(50);
  job.set_steps_total(50);
  job.set_tokens_computed(482);
  job.set_dense_tokens(1000);
  auto* schedule = job.mutable_schedule();
  schedule->set_match(videogen::v1::SCHEDULE_MATCH_EXACT_KEY);
  schedule->set_searched(true);
  schedule->set_budget(0.5f);
  schedule->set_predicted_speedup(1.85f);
  auto* timings = job.mutable_stage_timings();
  *timings->mutable_text_encoding() = TimeUtil::MillisecondsToDuration(500);
  *timings->mutable_denoising() = TimeUtil::SecondsToDuration(65);
  *timings->mutable_total() = TimeUtil::SecondsToDuration(70);
  job.mutable_output()->set_size_bytes(1234567);
  job.mutable_output()->set_content_type("video/mp4");
  job.mutable_output()->set_sha256(kAbcSha256);
  *job.mutable_create_time() = TimeUtil::SecondsToTimestamp(1795000000);  // 2026-11-18 11:06:40
  return job;
}

TEST(BuildSpecTest, CopiesValuesAndLeavesDefaultsToTheServer) {
  SpecValues values;
  values.prompt = "a fox";
  values.budget = 0.5;
  values.format = "raw";
  ASSERT_OK_AND_ASSIGN(const auto spec, BuildSpec(values));
  EXPECT_EQ(spec.prompt(), "a fox");
  EXPECT_FLOAT_EQ(spec.budget(), 0.5f);
  EXPECT_EQ(spec.output_format(), videogen::v1::OUTPUT_FORMAT_RAW_FRAMES);
  EXPECT_FALSE(spec.has_seed());
  EXPECT_EQ(spec.steps(), 0);
  values.seed = 0;
  values.format = "mp4";
  ASSERT_OK_AND_ASSIGN(const auto seeded, BuildSpec(values));
  EXPECT_TRUE(seeded.has_seed());
  EXPECT_EQ(seeded.output_format(), videogen::v1::OUTPUT_FORMAT_MP4_H264);
  EXPECT_EQ(seeded.acceleration(), "");
  values.acceleration = "pab(self=5,cross=9)";
  ASSERT_OK_AND_ASSIGN(const auto accelerated, BuildSpec(values));
  EXPECT_EQ(accelerated.acceleration(), "pab(self=5,cross=9)");
}

TEST(BuildSpecTest, RefusesMissingPromptUnknownFormatAndNegativeSeed) {
  SpecValues values;
  EXPECT_THAT(BuildSpec(values), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prompt")));
  values.prompt = "x";
  values.format = "gif";
  EXPECT_THAT(BuildSpec(values), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gif")));
  values.format = "";
  values.seed = -5;
  EXPECT_THAT(BuildSpec(values), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seed")));
}

TEST(ParseStatesTest, ParsesNamesAndRefusesUnknownOnes) {
  EXPECT_THAT(
      ParseStates("queued, Running,,"),
      IsOkAndHolds(ElementsAre(videogen::v1::JOB_STATE_QUEUED, videogen::v1::JOB_STATE_RUNNING)));
  EXPECT_THAT(ParseStates(""), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(ParseStates("queued,done"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'done'")));
  EXPECT_THAT(ParseStates("unspecified"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReadAdminTokenTest, FileWinsOverTheEnvironmentAndLosesItsNewline) {
  const std::string file = TempPath("token");
  WriteFile(file, "s3cret\n");
  EXPECT_THAT(ReadAdminToken(file, "from-env"), IsOkAndHolds("s3cret"));
  EXPECT_THAT(ReadAdminToken("", " from-env\n"), IsOkAndHolds("from-env"));
  EXPECT_THAT(ReadAdminToken("", nullptr), IsOkAndHolds(""));
  EXPECT_THAT(ReadAdminToken("", ""), IsOkAndHolds(""));
}

TEST(ReadAdminTokenTest, RefusesUnreadableEmptyAndMultiLineTokens) {
  EXPECT_THAT(ReadAdminToken(TempPath("no-such-token"), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot read")));
  const std::string empty = TempPath("empty-token");
  WriteFile(empty, "\n");
  EXPECT_THAT(ReadAdminToken(empty, "from-env"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no token")));
  const std::string two_lines = TempPath("two-line-token");
  WriteFile(two_lines, "abc\ndef\n");
  EXPECT_THAT(ReadAdminToken(two_lines, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one line")));
}

TEST(FormatTest, Names) {
  EXPECT_EQ(StateName(videogen::v1::JOB_STATE_CANCELLED), "cancelled");
  EXPECT_EQ(StageName(videogen::v1::JOB_STAGE_VAE_DECODING), "vae decoding");
  EXPECT_EQ(MatchName(videogen::v1::SCHEDULE_MATCH_NEAREST_KEY), "nearest_key");
  EXPECT_EQ(StateName(static_cast<videogen::v1::JobState>(42)), "unknown(42)");
}

TEST(FormatTest, Durations) {
  EXPECT_EQ(FormatDuration(TimeUtil::MillisecondsToDuration(12340)), "12.3s");
  EXPECT_EQ(FormatDuration(TimeUtil::MillisecondsToDuration(59970)), "1:00");
  EXPECT_EQ(FormatDuration(TimeUtil::SecondsToDuration(65)), "1:05");
  EXPECT_EQ(FormatDuration(TimeUtil::SecondsToDuration(3723)), "1:02:03");
}

TEST(FormatTest, ProgressLine) {
  EXPECT_EQ(ProgressLine(Progress(12, 50)), "step 12/50   24%  tokens 48.0% of dense  ETA 13.0s");
  videogen::v1::JobProgress bare;
  bare.set_step(1);
  bare.set_total_steps(4);
  EXPECT_EQ(ProgressLine(bare), "step 1/4   25%");
}

TEST(JobEventRendererTest, PlainProgressIsThrottledButShowsTheLastStep) {
  JobEventRenderer renderer(/*tty=*/false);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(renderer.Render(ProgressEvent(1, 4), t0), ProgressLine(Progress(1, 4)) + "\n");
  EXPECT_EQ(renderer.Render(ProgressEvent(2, 4), t0 + absl::Seconds(1)), "");
  EXPECT_THAT(renderer.Render(ProgressEvent(3, 4), t0 + absl::Seconds(2)), StartsWith("step 3/4"));
  EXPECT_THAT(renderer.Render(ProgressEvent(4, 4), t0 + absl::Seconds(2.5)),
              StartsWith("step 4/4"));
  EXPECT_EQ(renderer.Finish(), "");
}

TEST(JobEventRendererTest, TerminalProgressIsRedrawnAndEndedBeforeOtherLines) {
  JobEventRenderer renderer(/*tty=*/true);
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_EQ(renderer.Render(ProgressEvent(10, 20), now),
            "\r[##########..........] " + ProgressLine(Progress(10, 20)) + "\033[K");
  EXPECT_THAT(renderer.Render(ProgressEvent(11, 20), now), StartsWith("\r[###########."));
  videogen::v1::JobEvent stage;
  stage.mutable_stage_changed()->set_stage(videogen::v1::JOB_STAGE_VAE_DECODING);
  stage.mutable_stage_changed()->set_previous_stage(videogen::v1::JOB_STAGE_DENOISING);
  *stage.mutable_stage_changed()->mutable_previous_stage_duration() =
      TimeUtil::SecondsToDuration(65);
  EXPECT_EQ(renderer.Render(stage, now), "\nstage vae decoding (denoising took 1:05)\n");
  EXPECT_EQ(renderer.Finish(), "");
  renderer.Render(ProgressEvent(20, 20), now);
  EXPECT_EQ(renderer.Finish(), "\n");
}

TEST(JobEventRendererTest, QueuePositionsAreShownOnceEach) {
  JobEventRenderer renderer(/*tty=*/false);
  const absl::Time now = absl::FromUnixSeconds(1000);
  videogen::v1::JobEvent accepted;
  accepted.set_job_id("abc");
  accepted.mutable_accepted()->mutable_job()->set_state(videogen::v1::JOB_STATE_QUEUED);
  accepted.mutable_accepted()->mutable_job()->set_queue_position(3);
  EXPECT_EQ(renderer.Render(accepted, now), "job abc\nqueued, position 3\n");
  videogen::v1::JobEvent queued;
  queued.mutable_queued()->set_position(3);
  EXPECT_EQ(renderer.Render(queued, now), "");
  queued.mutable_queued()->set_position(2);
  EXPECT_EQ(renderer.Render(queued, now), "queued, position 2\n");
  videogen::v1::JobEvent stage;
  stage.mutable_stage_changed()->set_stage(videogen::v1::JOB_STAGE_TEXT_ENCODING);
  EXPECT_EQ(renderer.Render(stage, now), "stage text encoding\n");
  videogen::v1::JobEvent result;
  *result.mutable_result() = SucceededJob();
  EXPECT_EQ(renderer.Render(result, now), "");
}

TEST(JobEventRendererTest, AcceptedShowsWhereARunningOrDeduplicatedJobIs) {
  JobEventRenderer renderer(/*tty=*/false);
  videogen::v1::JobEvent accepted;
  accepted.set_job_id("abc");
  accepted.mutable_accepted()->set_deduplicated(true);
  auto* job = accepted.mutable_accepted()->mutable_job();
  job->set_state(videogen::v1::JOB_STATE_RUNNING);
  job->set_stage(videogen::v1::JOB_STAGE_DENOISING);
  job->set_steps_done(7);
  job->set_steps_total(50);
  EXPECT_EQ(renderer.Render(accepted, absl::FromUnixSeconds(1000)),
            "job abc (an existing job with this idempotency key)\n"
            "running, stage denoising, step 7/50\n");
}

TEST(DescribeJobTest, ShowsTheRecordWithoutThePrompt) {
  const std::string text = DescribeJob(SucceededJob());
  EXPECT_THAT(text, HasSubstr("state    succeeded\n"));
  EXPECT_THAT(text, Not(HasSubstr("stage ")));
  EXPECT_THAT(text, HasSubstr("tokens   482 of 1000 (48.2% of dense)\n"));
  EXPECT_THAT(text,
              HasSubstr("schedule exact_key (searched), budget 0.5, predicted speedup 1.85x\n"));
  EXPECT_THAT(text, HasSubstr("created  2026-11-18 11:06:40 UTC\n"));
  EXPECT_THAT(text, HasSubstr("timings  text encoding 0.5s, denoising 1:05, total 1:10\n"));
  EXPECT_THAT(text,
              HasSubstr(std::string("output   video/mp4, 1234567 bytes, sha256 ") + kAbcSha256));
  EXPECT_THAT(text, Not(HasSubstr("fox")));
  EXPECT_THAT(text, Not(HasSubstr("error")));
  EXPECT_THAT(text, Not(HasSubstr("accel")));
  videogen::v1::VideoJob accelerated = SucceededJob();
  accelerated.mutable_spec()->set_acceleration("toca(interval=2,reuse=0.8)");
  EXPECT_THAT(DescribeJob(accelerated), HasSubstr("accel    toca(interval=2,reuse=0.8)\n"));
}

TEST(DescribeJobTest, ShowsStageOfARunningJobAndErrorOfAFailedOne) {
  videogen::v1::VideoJob job;
  job.set_id("abc");
  job.set_state(videogen::v1::JOB_STATE_RUNNING);
  job.set_stage(videogen::v1::JOB_STAGE_DENOISING);
  EXPECT_THAT(DescribeJob(job), HasSubstr("state    running\nstage    denoising\n"));
  job.set_state(videogen::v1::JOB_STATE_FAILED);
  job.set_stage(videogen::v1::JOB_STAGE_UNSPECIFIED);
  job.set_error_code(8);
  job.set_error_message("device out of memory");
  EXPECT_THAT(DescribeJob(job), HasSubstr("error    RESOURCE_EXHAUSTED: device out of memory\n"));
  job.set_state(videogen::v1::JOB_STATE_QUEUED);
  job.set_queue_position(2);
  EXPECT_THAT(DescribeJob(job), HasSubstr("state    queued (position 2)\n"));
}

TEST(SummaryLineTest, NamesPathSizeTimingsTokensAndSchedule) {
  EXPECT_EQ(SummaryLine(SucceededJob(), "/tmp/fox.mp4"),
            "job 0123456789abcdef0123456789abcdef: wrote /tmp/fox.mp4 (1234567 bytes); "
            "text encoding 0.5s, denoising 1:05, total 1:10; tokens 48.2% of dense; "
            "schedule exact_key (searched), budget 0.5, predicted speedup 1.85x");
}

TEST(FailureLineTest, NamesTheErrorCode) {
  videogen::v1::VideoJob job;
  job.set_id("abc");
  job.set_state(videogen::v1::JOB_STATE_FAILED);
  job.set_error_code(13);
  job.set_error_message("device failure");
  EXPECT_EQ(FailureLine(job), "job abc failed: INTERNAL: device failure");
  job.set_state(videogen::v1::JOB_STATE_CANCELLED);
  job.set_error_code(1);
  job.clear_error_message();
  EXPECT_EQ(FailureLine(job), "job abc was cancelled: CANCELLED");
  job.set_state(videogen::v1::JOB_STATE_RUNNING);
  job.set_error_code(0);
  EXPECT_EQ(FailureLine(job), "job abc is running");
}

TEST(JobListLineTest, OneLinePerJobWithTheTruncatedPrompt) {
  videogen::v1::VideoJob job = SucceededJob();
  EXPECT_EQ(JobListLine(job),
            "0123456789abcdef0123456789abcdef  succeeded  2026-11-18 11:06:40    50/50  0.50    "
            "a fox in the snow");
  EXPECT_THAT(JobListHeader(), StartsWith("JOB "));
  // 45 characters, 2 bytes each, and a newline: cut at 40 whole characters, on one line.
  std::string prompt = "line\none ";
  for (int i = 0; i < 36; ++i) prompt += "\xc3\xa9";  // é
  job.mutable_spec()->set_prompt(prompt);
  std::string expected = "line one ";
  for (int i = 0; i < 31; ++i) expected += "\xc3\xa9";
  EXPECT_THAT(JobListLine(job), ::testing::EndsWith("  " + expected + "..."));
}

TEST(AtomicFileWriterTest, CommitsCheckedBytesThroughATemporaryFile) {
  const std::string path = TempPath("video.mp4");
  ASSERT_OK_AND_ASSIGN(auto writer, AtomicFileWriter::Create(path));
  ASSERT_OK(writer->Append("ab"));
  ASSERT_OK(writer->Append("c"));
  EXPECT_EQ(writer->size(), 3);
  EXPECT_TRUE(Exists(path + ".tmp"));
  EXPECT_FALSE(Exists(path));
  ASSERT_OK(writer->Commit(3, kAbcSha256));
  EXPECT_EQ(ReadFile(path), "abc");
  EXPECT_FALSE(Exists(path + ".tmp"));
  EXPECT_THAT(writer->Commit(3, kAbcSha256), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(writer->Append("d"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(AtomicFileWriterTest, AWrongHashOrSizeLeavesThePathAlone) {
  const std::string path = TempPath("kept.mp4");
  WriteFile(path, "old");
  ASSERT_OK_AND_ASSIGN(auto bad_hash, AtomicFileWriter::Create(path));
  ASSERT_OK(bad_hash->Append("abd"));
  EXPECT_THAT(bad_hash->Commit(3, kAbcSha256),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("SHA-256")));
  EXPECT_EQ(ReadFile(path), "old");
  EXPECT_FALSE(Exists(path + ".tmp"));
  ASSERT_OK_AND_ASSIGN(auto short_data, AtomicFileWriter::Create(path));
  ASSERT_OK(short_data->Append("ab"));
  EXPECT_THAT(short_data->Commit(3, ""),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("received 2 of 3 bytes")));
  EXPECT_EQ(ReadFile(path), "old");
}

TEST(AtomicFileWriterTest, AbandonedWriterRemovesItsTemporaryFile) {
  const std::string path = TempPath("abandoned.mp4");
  {
    ASSERT_OK_AND_ASSIGN(auto writer, AtomicFileWriter::Create(path));
    ASSERT_OK(writer->Append("partial"));
  }
  EXPECT_FALSE(Exists(path + ".tmp"));
  EXPECT_FALSE(Exists(path));
  EXPECT_THAT(AtomicFileWriter::Create("/nonexistent-dir/x.mp4"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent-dir/x.mp4.tmp")));
}

TEST(AppendChunkTest, AcceptsContiguousChunksOnly) {
  const std::string path = TempPath("chunks.mp4");
  ASSERT_OK_AND_ASSIGN(auto writer, AtomicFileWriter::Create(path));
  videogen::v1::VideoChunk chunk;
  chunk.set_total_size(3);
  chunk.set_data("ab");
  ASSERT_OK(AppendChunk(chunk, *writer));
  chunk.set_offset(3);
  chunk.set_data("c");
  EXPECT_THAT(AppendChunk(chunk, *writer),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("starts at byte 3")));
  chunk.set_offset(2);
  chunk.set_data("cd");
  EXPECT_THAT(AppendChunk(chunk, *writer),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("past the result's 3 bytes")));
  chunk.set_data("c");
  ASSERT_OK(AppendChunk(chunk, *writer));
  ASSERT_OK(writer->Commit(chunk.total_size(), kAbcSha256));
  EXPECT_EQ(ReadFile(path), "abc");
}

}  // namespace
}  // namespace videogen::cli
