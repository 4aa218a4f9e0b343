#include "server/job_spec.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using ::videogen::v1::VideoJobSpec;

class JobSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(config_, ParseServerConfig(R"pb(
                           models { name: "wan2.1-t2v-1.3b" path: "/models/a" }
                           models { name: "tiny" path: "/models/b" }
                           limits { max_frames: 161 }
                         )pb"));
    spec_.set_prompt("a red fox runs through fresh snow");
  }

  videogen::v1::ServerConfig config_;
  VideoJobSpec spec_;
};

TEST_F(JobSpecTest, FillsEveryDefault) {
  ASSERT_OK_AND_ASSIGN(const VideoJobSpec out, NormalizeJobSpec(spec_, config_, 1234));
  EXPECT_EQ(out.model(), "wan2.1-t2v-1.3b");
  EXPECT_EQ(out.height(), 480);
  EXPECT_EQ(out.width(), 832);
  EXPECT_EQ(out.frames(), 81);
  EXPECT_EQ(out.fps(), 16);
  EXPECT_EQ(out.steps(), 50);
  EXPECT_FLOAT_EQ(out.guidance_scale(), 5.0f);
  ASSERT_TRUE(out.has_seed());
  EXPECT_EQ(out.seed(), 1234u);
  EXPECT_FLOAT_EQ(out.budget(), 1.0f);
  EXPECT_EQ(out.priority(), 0);
  EXPECT_EQ(out.output_format(), videogen::v1::OUTPUT_FORMAT_MP4_H264);
  EXPECT_EQ(out.prompt(), spec_.prompt());
}

TEST_F(JobSpecTest, KeepsExplicitValues) {
  spec_.set_model("tiny");
  spec_.set_height(256);
  spec_.set_width(1280);
  spec_.set_frames(161);
  spec_.set_fps(24);
  spec_.set_steps(100);
  spec_.set_guidance_scale(1.0f);
  spec_.set_seed(0);  // Explicitly zero is a seed, not "unset".
  spec_.set_budget(0.4f);
  spec_.set_priority(-10);
  spec_.set_output_format(videogen::v1::OUTPUT_FORMAT_RAW_FRAMES);
  spec_.set_idempotency_key("retry-7 ~!");
  spec_.set_negative_prompt("blurry, 低质量");
  ASSERT_OK_AND_ASSIGN(const VideoJobSpec out, NormalizeJobSpec(spec_, config_, 99));
  spec_.set_seed(0);
  EXPECT_EQ(out.SerializeAsString(), spec_.SerializeAsString());
}

TEST_F(JobSpecTest, RejectsEveryBadFieldByName) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const struct {
    std::function<void(VideoJobSpec&)> edit;
    std::string message;
  } cases[] = {
      {[](VideoJobSpec& s) { s.clear_prompt(); }, "prompt is required"},
      {[](VideoJobSpec& s) { s.set_prompt(std::string(2049, 'a')); }, "prompt has 2049 bytes"},
      {[](VideoJobSpec& s) { s.set_prompt("bad \xC3\x28 utf8"); }, "prompt is not valid UTF-8"},
      {[](VideoJobSpec& s) { s.set_prompt("overlong \xC0\xAF"); }, "prompt is not valid UTF-8"},
      {[](VideoJobSpec& s) { s.set_prompt("surrogate \xED\xA0\x80"); }, "not valid UTF-8"},
      {[](VideoJobSpec& s) { s.set_prompt("cut \xE4\xBD"); }, "not valid UTF-8"},
      {[](VideoJobSpec& s) { s.set_negative_prompt(std::string(2049, 'a')); },
       "negative_prompt has 2049 bytes"},
      {[](VideoJobSpec& s) { s.set_height(488); },
       "height = 488 must be a positive multiple of 16"},
      {[](VideoJobSpec& s) { s.set_height(-16); }, "height = -16"},
      {[](VideoJobSpec& s) { s.set_height(1296); }, "up to 1280"},
      {[](VideoJobSpec& s) { s.set_width(8); }, "width = 8"},
      {[](VideoJobSpec& s) { s.set_frames(80); },
       "frames = 80 must be of the form 4k + 1 up to 161"},
      {[](VideoJobSpec& s) { s.set_frames(165); }, "frames = 165"},
      {[](VideoJobSpec& s) { s.set_frames(-3); }, "frames = -3"},
      {[](VideoJobSpec& s) { s.set_fps(121); }, "fps = 121 is outside [1, 120]"},
      {[](VideoJobSpec& s) { s.set_fps(-1); }, "fps = -1"},
      {[](VideoJobSpec& s) { s.set_steps(101); }, "steps = 101 is outside [1, 100]"},
      {[](VideoJobSpec& s) { s.set_steps(-1); }, "steps = -1"},
      {[](VideoJobSpec& s) { s.set_guidance_scale(0.5f); },
       "guidance_scale = 0.5 is outside [1, 20]"},
      {[](VideoJobSpec& s) { s.set_guidance_scale(20.5f); }, "guidance_scale = 20.5"},
      {[nan](VideoJobSpec& s) { s.set_guidance_scale(nan); }, "guidance_scale = nan"},
      {[](VideoJobSpec& s) { s.set_budget(-0.1f); }, "budget = -0.1 is outside (0, 1]"},
      {[](VideoJobSpec& s) { s.set_budget(1.01f); }, "budget = 1.01"},
      {[nan](VideoJobSpec& s) { s.set_budget(nan); }, "budget = nan"},
      {[](VideoJobSpec& s) { s.set_priority(11); }, "priority = 11 is outside [-10, 10]"},
      {[](VideoJobSpec& s) { s.set_priority(-11); }, "priority = -11"},
      {[](VideoJobSpec& s) { s.set_output_format(static_cast<videogen::v1::OutputFormat>(7)); },
       "output_format = 7"},
      {[](VideoJobSpec& s) { s.set_idempotency_key(std::string(129, 'k')); },
       "idempotency_key has 129 bytes"},
      {[](VideoJobSpec& s) { s.set_idempotency_key("tab\there"); },
       "idempotency_key must be printable ASCII"},
      {[](VideoJobSpec& s) { s.set_acceleration("fastcache"); },
       "acceleration unknown acceleration 'fastcache'"},
      {[](VideoJobSpec& s) { s.set_acceleration("pab(self=0)"); }, "acceleration broadcast"},
      {[](VideoJobSpec& s) {
         s.set_acceleration("pab");
         s.set_budget(0.5f);
       },
       "acceleration replaces the token budget: budget must be 1, got 0.5"},
  };
  for (const auto& c : cases) {
    VideoJobSpec spec = spec_;
    c.edit(spec);
    EXPECT_THAT(NormalizeJobSpec(spec, config_, 1),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.message;
  }
}

TEST_F(JobSpecTest, TheServersMinimumBudgetIsEnforced) {
  config_.mutable_limits()->set_min_budget(0.4f);
  spec_.set_budget(0.4f);
  EXPECT_OK(NormalizeJobSpec(spec_, config_, 1).status());
  spec_.set_budget(0.3f);
  EXPECT_THAT(NormalizeJobSpec(spec_, config_, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("budget = 0.3 is below this server's minimum 0.4")));
}

TEST_F(JobSpecTest, AnAccelerationIsRecordedWithAllItsSettings) {
  spec_.set_acceleration(" toca( reuse=0.85 )");
  ASSERT_OK_AND_ASSIGN(const VideoJobSpec out, NormalizeJobSpec(spec_, config_, 1));
  EXPECT_EQ(out.acceleration(), "toca(interval=2,reuse=0.85)");
  EXPECT_FLOAT_EQ(out.budget(), 1.0f);
}

TEST_F(JobSpecTest, UnknownModelIsNotFound) {
  spec_.set_model("sora");
  EXPECT_THAT(NormalizeJobSpec(spec_, config_, 1),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("model \"sora\"")));
}

TEST_F(JobSpecTest, LimitsBoundariesAreInclusive) {
  spec_.set_prompt(std::string(2048, 'a'));
  spec_.set_height(1280);
  spec_.set_width(16);
  spec_.set_frames(1);
  spec_.set_fps(120);
  spec_.set_steps(1);
  spec_.set_guidance_scale(20);
  spec_.set_budget(1e-6f);
  spec_.set_priority(10);
  spec_.set_idempotency_key(std::string(128, '~'));
  EXPECT_OK(NormalizeJobSpec(spec_, config_, 1).status());
}

}  // namespace
}  // namespace videogen::server
