// The pipeline against diffusers' WanPipeline (tools/golden/fixtures_pipeline.py): the tiny
// tokenizer, text encoder, transformer, UniPC scheduler and VAE, float32 on the CPU, 4 steps with
// classifier-free guidance, seed 42: the latents of every step and the decoded uint8 frames.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "engine/accel/policies.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/testing/golden_request.h"
#include "engine/weights/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::wan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::RelativeError;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

class PipelineGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(golden_,
                         Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "pipeline_golden"));
    ASSERT_OK_AND_ASSIGN(
        pipeline_, Pipeline::Load(RunfilePath("tests/golden/wan_tiny"), at::kFloat, at::kCPU));
    ASSERT_OK_AND_ASSIGN(request_, testing::WanTinyGoldenRequest());
  }
  at::Tensor Golden(const std::string& name) {
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, at::kFloat);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : at::Tensor();
  }

  std::unique_ptr<Checkpoint> golden_;
  std::unique_ptr<Pipeline> pipeline_;
  GenerateRequest request_;
};

TEST_F(PipelineGoldenTest, PromptEmbeddingsAndSeededNoiseMatchDiffusers) {
  // Same LibTorch, same operations: equal up to the last float32 bit, which the CPU's matrix
  // kernels (chosen by its instruction set) may round differently from the machine that recorded
  // the golden (measured: 0 on one CPU, 1.2e-7 on another).
  constexpr double kLastBit = 1e-6;
  ASSERT_OK_AND_ASSIGN(const at::Tensor embeds, pipeline_->EncodePrompt(request_.prompt, 16));
  EXPECT_LT(RelativeError(embeds, Golden("prompt_embeds"), "prompt_embeds"), kLastBit);
  ASSERT_OK_AND_ASSIGN(const at::Tensor negative,
                       pipeline_->EncodePrompt(request_.negative_prompt, 16));
  EXPECT_LT(RelativeError(negative, Golden("negative_prompt_embeds"), "negative_embeds"), kLastBit);
  // LibTorch's CPU generator is the one torch.Generator uses: the same seed, the same noise.
  EXPECT_TRUE(at::equal(pipeline_->InitialLatents(request_), Golden("initial_latents")));
}

TEST_F(PipelineGoldenTest, GuidedDenoisingLoopMatchesDiffusers) {
  std::vector<int> steps_seen;
  ASSERT_OK_AND_ASSIGN(
      const at::Tensor latents,
      pipeline_->GenerateLatents(
          request_, [&](const StepEvent& e) { steps_seen.push_back(e.step * 10 + e.total_steps); },
          [] { return false; }));
  EXPECT_THAT(steps_seen, ElementsAre(14, 24, 34, 44));
  // Same LibTorch, same operations in the same order: diffusers' latents to float32 rounding.
  EXPECT_LT(RelativeError(latents, Golden("latents"), "latents"), 1e-5);
}

TEST_F(PipelineGoldenTest, BudgetScheduleComputesFewerTokensAndDenseScheduleIsDense) {
  std::vector<int64_t> tokens, dense_tokens;
  auto record = [&](const StepEvent& e) {
    tokens.push_back(e.tokens_computed);
    dense_tokens.push_back(e.dense_tokens);
  };
  ASSERT_OK_AND_ASSIGN(const at::Tensor dense, pipeline_->GenerateLatents(request_, record, {}));
  // 3 x 2 x 2 tokens, 2 blocks, 2 CFG branches.
  EXPECT_THAT(tokens, ElementsAre(48, 48, 48, 48));

  tokens.clear();
  ASSERT_OK_AND_ASSIGN(request_.schedule, astraea::BudgetSchedule::Dense(4));
  ASSERT_OK_AND_ASSIGN(const at::Tensor all_ones, pipeline_->GenerateLatents(request_, record, {}));
  EXPECT_TRUE(at::equal(all_ones, dense));
  EXPECT_THAT(tokens, ElementsAre(48, 48, 48, 48));

  tokens.clear();
  ASSERT_OK_AND_ASSIGN(request_.schedule, astraea::BudgetSchedule::Parse("1,0.5,0.5,1"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor sparse, pipeline_->GenerateLatents(request_, record, {}));
  EXPECT_THAT(tokens, ElementsAre(48, 24, 24, 48));
  EXPECT_THAT(dense_tokens, ::testing::Each(48));
  const double error = RelativeError(sparse, dense, "half_budget_rel_err");
  EXPECT_GT(error, 0.0);
  EXPECT_LT(error, 0.5);

  ASSERT_OK_AND_ASSIGN(request_.schedule, astraea::BudgetSchedule::Uniform(5, 0.5));
  EXPECT_THAT(pipeline_->GenerateLatents(request_, nullptr, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5 steps, expected 4")));
}

TEST_F(PipelineGoldenTest, AccelerationPoliciesRunInPlaceOfTheDenseModel) {
  ASSERT_OK_AND_ASSIGN(const at::Tensor dense, pipeline_->GenerateLatents(request_, {}, {}));
  std::vector<int64_t> tokens;
  auto record = [&](const StepEvent& e) {
    tokens.push_back(e.tokens_computed);
    EXPECT_EQ(e.dense_tokens, 48);
  };
  // With its reuse off a policy is the dense model.
  ASSERT_OK_AND_ASSIGN(request_.acceleration,
                       accel::ParsePolicy("pab(self=1,cross=1,untouched=0)"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor off, pipeline_->GenerateLatents(request_, record, {}));
  EXPECT_TRUE(at::equal(off, dense));
  EXPECT_THAT(tokens, ElementsAre(48, 48, 48, 48));

  // ToCa: steps 1 and 3 (0-based) reuse; their token count is the dense one scaled by their
  // share of the dense FLOPs.
  tokens.clear();
  ASSERT_OK_AND_ASSIGN(request_.acceleration, accel::ParsePolicy("toca(reuse=0.5)"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor toca, pipeline_->GenerateLatents(request_, record, {}));
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[0], 48);
  EXPECT_EQ(tokens[2], 48);
  EXPECT_GT(tokens[1], 0);
  EXPECT_LT(tokens[1], 48);
  EXPECT_EQ(tokens[3], tokens[1]);
  const double error = RelativeError(toca, dense, "toca_rel_err");
  EXPECT_GT(error, 0.0);
  EXPECT_LT(error, 0.5);

  ASSERT_OK_AND_ASSIGN(Pipeline::Trajectory run, pipeline_->StartTrajectory(request_));
  EXPECT_THAT(run.Branch(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("acceleration policy cannot be branched")));

  ASSERT_OK_AND_ASSIGN(request_.schedule, astraea::BudgetSchedule::Uniform(4, 0.5));
  EXPECT_THAT(pipeline_->GenerateLatents(request_, nullptr, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a budget schedule or an acceleration policy, not both")));
  request_.schedule.reset();
  ASSERT_OK_AND_ASSIGN(request_.acceleration, accel::ParsePolicy("delta_dit"));
  EXPECT_THAT(pipeline_->GenerateLatents(request_, nullptr, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PipelineGoldenTest, GeneratedFramesMatchDiffusers) {
  // Stages and steps in the order they happen: T = text, D = denoising, V = VAE, digits = steps.
  std::string events;
  ASSERT_OK_AND_ASSIGN(
      const at::Tensor frames,
      pipeline_->Generate(
          request_, [&](const StepEvent& e) { events += std::to_string(e.step); }, nullptr,
          [&](Stage stage) { events += "TDV"[static_cast<int>(stage)]; }));
  EXPECT_EQ(events, "TD1234V");
  ASSERT_THAT(frames.sizes(), ElementsAre(9, 32, 32, 3));
  ASSERT_EQ(frames.scalar_type(), at::kByte);
  // The latents agree to float32 rounding (above), so a pixel can differ by one level only where
  // the video sits on a rounding boundary.
  const at::Tensor diff = (frames.to(at::kInt) - Golden("frames").to(at::kInt)).abs();
  EXPECT_LE(diff.max().item<int>(), 1);
  EXPECT_LT(diff.gt(0).sum().item<int64_t>(), 10);
}

TEST_F(PipelineGoldenTest, CancellationAfterTheLastStepSkipsTheDecode) {
  std::atomic<int> steps{0};
  EXPECT_THAT(pipeline_->Generate(
                  request_, [&](const StepEvent&) { ++steps; }, [&] { return steps.load() == 4; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("before the VAE decode")));
}

TEST_F(PipelineGoldenTest, CancellationStopsBeforeTheNextStep) {
  std::atomic<int> steps{0};
  const auto result = pipeline_->GenerateLatents(
      request_, [&](const StepEvent&) { ++steps; }, [&] { return steps.load() == 2; });
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled, HasSubstr("before step 3 of 4")));
  EXPECT_EQ(steps.load(), 2);
}

TEST_F(PipelineGoldenTest, InvalidRequestsNameTheField) {
  const struct {
    void (*edit)(GenerateRequest&);
    const char* field;
  } cases[] = {
      {[](GenerateRequest& r) { r.height = 40; }, "height 40"},
      {[](GenerateRequest& r) { r.width = 0; }, "width 0"},
      {[](GenerateRequest& r) { r.frames = 10; }, "frames 10"},
      {[](GenerateRequest& r) { r.steps = 0; }, "steps 0"},
      {[](GenerateRequest& r) { r.guidance_scale = -1; }, "guidance_scale"},
      {[](GenerateRequest& r) { r.max_sequence_length = 0; }, "max_sequence_length"},
      {[](GenerateRequest& r) { r.height = 16 * 40; }, "too large"},
  };
  for (const auto& c : cases) {
    GenerateRequest request = request_;
    c.edit(request);
    EXPECT_THAT(pipeline_->GenerateLatents(request, nullptr, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)));
  }
}

}  // namespace
}  // namespace videogen::engine::wan
