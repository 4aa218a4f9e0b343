// The transformer against diffusers 0.42.1 (tests/golden/VERSIONS.json) on a tiny random-weight
// configuration, stage by stage, in float32 and in the bf16 dtype policy.
#include <memory>
#include <string>

#include "ATen/ATen.h"
#include "c10/core/InferenceMode.h"
#include "engine/wan/transformer.h"
#include "engine/weights/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::wan {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RelativeError;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

class TransformerGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        golden_, Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "transformer_golden"));
    ASSERT_OK_AND_ASSIGN(latents_, golden_->Load("latents", at::kFloat));
    ASSERT_OK_AND_ASSIGN(timestep_, golden_->Load("timestep", at::kLong));
    ASSERT_OK_AND_ASSIGN(text_, golden_->Load("text", at::kFloat));
  }
  at::Tensor Golden(const std::string& name) {
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, at::kFloat);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : at::Tensor();
  }
  std::unique_ptr<Transformer> LoadModel(c10::ScalarType dtype) {
    absl::StatusOr<std::unique_ptr<Transformer>> model =
        Transformer::Load(RunfilePath("tests/golden/wan_tiny/transformer"), dtype, at::kCPU);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *std::move(model) : nullptr;
  }

  std::unique_ptr<Checkpoint> golden_;
  at::Tensor latents_, timestep_, text_;
};

TEST_F(TransformerGoldenTest, Float32StagesMatchDiffusers) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  ASSERT_OK(model->ValidateInputs(latents_, timestep_, text_));
  c10::InferenceMode inference;

  const Transformer::Grid grid = model->GridOf(latents_);
  const Transformer::Rope rope = model->RotaryEmbedding(grid);
  EXPECT_LT(RelativeError(rope.cos, Golden("fp32.rope_cos"), "rope_cos"), 1e-7);
  EXPECT_LT(RelativeError(rope.sin, Golden("fp32.rope_sin"), "rope_sin"), 1e-7);

  const Transformer::Conditioning conditioning = model->Condition(timestep_, text_);
  EXPECT_LT(RelativeError(conditioning.temb, Golden("fp32.temb"), "temb"), 1e-6);
  EXPECT_LT(RelativeError(conditioning.modulation.flatten(1), Golden("fp32.timestep_proj"),
                          "timestep_proj"),
            1e-6);
  EXPECT_LT(RelativeError(conditioning.text.projected, Golden("fp32.text_proj"), "text_proj"),
            1e-6);

  const at::Tensor block0 = model->Block(0, model->PatchEmbed(latents_), conditioning, rope);
  EXPECT_LT(RelativeError(block0, Golden("fp32.block0"), "block0"), 1e-5);

  const at::Tensor output = model->Forward(latents_, timestep_, text_);
  EXPECT_EQ(output.sizes(), latents_.sizes());
  EXPECT_LT(RelativeError(output, Golden("fp32.output"), "output"), 1e-5);
}

TEST_F(TransformerGoldenTest, BFloat16RunMatchesDiffusersDtypePolicy) {
  const auto model = LoadModel(at::kBFloat16);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->dtype(), at::kBFloat16);
  c10::InferenceMode inference;
  const at::Tensor output =
      model->Forward(latents_.to(at::kBFloat16), timestep_, text_.to(at::kBFloat16));
  EXPECT_EQ(output.scalar_type(), at::kBFloat16);
  // Same LibTorch, same CPU kernels, same operation order as diffusers: agreement well inside
  // bf16 rounding noise (2e-2 is the bound for bf16).
  EXPECT_LT(RelativeError(output, Golden("bf16.output"), "bf16_output"), 2e-2);
}

TEST_F(TransformerGoldenTest, ValidateInputsNamesTheBadInput) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(model->ValidateInputs(latents_.slice(1, 0, 3), timestep_, text_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("latents [2,3,3,8,8]")));
  EXPECT_THAT(model->ValidateInputs(latents_.slice(3, 0, 7), timestep_, text_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dimension 3")));
  EXPECT_THAT(model->ValidateInputs(latents_, timestep_.slice(0, 0, 1), text_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timestep [1]")));
  EXPECT_THAT(model->ValidateInputs(latents_, timestep_, text_.slice(2, 0, 16)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text [2,7,16]")));
}

}  // namespace
}  // namespace videogen::engine::wan
