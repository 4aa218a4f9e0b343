// The prompt set format and the flag values the bench binaries share.
#include "bench/bench_inputs.h"

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

std::string Write(const std::string& text) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/prompts.jsonl";
  std::ofstream(path) << text;
  return path;
}

TEST(BenchInputsTest, ReadsPromptsWithAndWithoutScenes) {
  ASSERT_OK_AND_ASSIGN(const auto prompts,
                       ReadPrompts(Write("{\"prompt\": \"a\", \"seed\": 3, \"scene_seed\": 7}\n\n"
                                         "{\"prompt\": \"b\", \"seed\": 4, \"scene_seed\": null}\n"
                                         "{\"prompt\": \"c\", \"seed\": 5}\n")));
  ASSERT_EQ(prompts.size(), 3u);
  EXPECT_EQ(prompts[0].prompt, "a");
  EXPECT_EQ(prompts[0].seed, 3u);
  EXPECT_EQ(prompts[0].scene_seed, 7);
  EXPECT_FALSE(prompts[1].scene_seed.has_value());
  EXPECT_FALSE(prompts[2].scene_seed.has_value());
}

TEST(BenchInputsTest, RejectsBadFilesByLine) {
  EXPECT_THAT(ReadPrompts("/nonexistent/prompts.jsonl"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadPrompts(Write("\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no prompts")));
  for (const char* line : {"{\"prompt\": \"a\"}", "{\"seed\": 1}", "not json",
                           "{\"prompt\": 1, \"seed\": 1}", "{\"prompt\": \"a\", \"seed\": -1}",
                           "{\"prompt\": \"a\", \"seed\": 1, \"scene_seed\": \"x\"}"}) {
    EXPECT_THAT(ReadPrompts(Write(line)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(line)));
  }
}

TEST(BenchInputsTest, ParsesDevicesAndDtypes) {
  ASSERT_OK_AND_ASSIGN(const c10::Device cpu, ParseDevice("cpu"));
  EXPECT_TRUE(cpu.is_cpu());
  ASSERT_OK_AND_ASSIGN(const c10::Device cuda, ParseDevice("cuda"));
  EXPECT_TRUE(cuda.is_cuda());
  EXPECT_EQ(cuda.index(), 0);
  EXPECT_THAT(ParseDevice("tpu"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tpu")));
  EXPECT_THAT(ParseDtype("float32"), IsOkAndHolds(c10::kFloat));
  EXPECT_THAT(ParseDtype("bfloat16"), IsOkAndHolds(c10::kBFloat16));
  EXPECT_THAT(ParseDtype("fp8"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fp8")));
}

TEST(BenchInputsTest, ResultsHeaderSaysWhatRan) {
  std::vector<Prompt> prompts(2);
  prompts[0] = {"a red ball", 3, 7};
  prompts[1] = {"a blue cube", 4, std::nullopt};
  const nlohmann::json header = ResultsHeader("bench --x", "cuda", "/models/demo", prompts);
  EXPECT_EQ(header["command"], "bench --x");
  EXPECT_EQ(header["device"], "cuda");
  EXPECT_EQ(header["model"], "/models/demo");
  EXPECT_THAT(header["date"].get<std::string>(), MatchesRegex("20[0-9]{2}-[01][0-9]-[0-3][0-9]"));
  EXPECT_EQ(header["prompts"], nlohmann::json::parse(R"([
      {"index": 0, "prompt": "a red ball", "seed": 3, "scene_seed": 7},
      {"index": 1, "prompt": "a blue cube", "seed": 4, "scene_seed": null}])"));
}

}  // namespace
}  // namespace videogen::bench
