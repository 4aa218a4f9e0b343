#include "server/cli/client_util.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::cli {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;
using ::videogen::testing::StatusIs;

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
  ASSERT_OK_AND_ASSIGN(const auto seeded, BuildSpec(values));
  EXPECT_TRUE(seeded.has_seed());
}

TEST(BuildSpecTest, RefusesMissingPromptAndUnknownFormat) {
  SpecValues values;
  EXPECT_THAT(BuildSpec(values), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prompt")));
  values.prompt = "x";
  values.format = "gif";
  EXPECT_THAT(BuildSpec(values), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gif")));
}

TEST(FormatTest, DurationsAndProgress) {
  EXPECT_EQ(FormatDuration(TimeUtil::MillisecondsToDuration(12340)), "12.3s");
  EXPECT_EQ(FormatDuration(TimeUtil::SecondsToDuration(65)), "1:05");
  videogen::v1::JobProgress progress;
  progress.set_step(12);
  progress.set_total_steps(50);
  progress.set_tokens_computed(480);
  progress.set_dense_tokens(1000);
  *progress.mutable_eta() = TimeUtil::SecondsToDuration(13);
  EXPECT_EQ(ProgressLine(progress), "step 12/50   24%  tokens 48.0% of dense  ETA 13.0s");
}

TEST(DescribeJobTest, SummarisesWithoutThePrompt) {
  videogen::v1::VideoJob job;
  job.set_id("abc");
  job.set_state(videogen::v1::JOB_STATE_FAILED);
  job.mutable_spec()->set_prompt("secret prompt");
  job.set_error_code(8);
  job.set_error_message("device out of memory");
  const std::string text = DescribeJob(job);
  EXPECT_THAT(text, HasSubstr("state    failed"));
  EXPECT_THAT(text, HasSubstr("RESOURCE_EXHAUSTED: device out of memory"));
  EXPECT_THAT(text, Not(HasSubstr("secret")));
}

TEST(WriteResultTest, WritesAtomicallyAndChecksTheHash) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/out.bin";
  // SHA-256 of "abc".
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_THAT(WriteResult(path, "abd", abc), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(std::ifstream(path).good());
  ASSERT_OK(WriteResult(path, "abc", abc));
  std::stringstream content;
  content << std::ifstream(path).rdbuf();
  EXPECT_EQ(content.str(), "abc");
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
  EXPECT_THAT(WriteResult("/nonexistent-dir/x", "abc", ""),
              StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace videogen::cli
