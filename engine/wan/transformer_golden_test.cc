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

TEST_F(TransformerGoldenTest, BlockWithCacheReusesTheCachedBranches) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  c10::InferenceMode inference;
  const Transformer::Rope rope = model->RotaryEmbedding(model->GridOf(latents_));
  const Transformer::Conditioning earlier = model->Condition(timestep_, text_);
  const Transformer::Conditioning now = model->Condition(timestep_ - 100, text_);
  const at::Tensor hidden_earlier = model->PatchEmbed(latents_);
  const at::Tensor hidden = hidden_earlier * 0.9 + 0.05;

  // Nothing cached: Block() itself; `used` holds the branches it added.
  Transformer::Branches cache;
  const at::Tensor first = model->BlockWithCache(0, hidden_earlier, earlier, rope, {}, {}, &cache);
  EXPECT_TRUE(at::equal(first, model->Block(0, hidden_earlier, earlier, rope)));
  ASSERT_TRUE(cache.self_attention.defined() && cache.cross_attention.defined() &&
              cache.feed_forward.defined());

  const at::Tensor dense = model->Block(0, hidden, now, rope);
  Transformer::Branches current;
  model->BlockWithCache(0, hidden, now, rope, {}, {}, &current);
  // A cached branch is taken as given: this step's own branches reproduce the dense block, an
  // earlier step's change it.
  EXPECT_TRUE(at::equal(model->BlockWithCache(0, hidden, now, rope, current, {}, nullptr), dense));
  for (const auto reuse :
       {&Transformer::Branches::self_attention, &Transformer::Branches::cross_attention,
        &Transformer::Branches::feed_forward}) {
    Transformer::Branches cached;
    cached.*reuse = cache.*reuse;
    Transformer::Branches used;
    const at::Tensor out = model->BlockWithCache(0, hidden, now, rope, cached, {}, &used);
    EXPECT_GT(RelativeError(out, dense, "one_branch_reused"), 1e-5);
    EXPECT_TRUE(at::equal(used.*reuse, cache.*reuse));
  }

  // Fresh rows: recomputed from this step's input, the others cached. Every row fresh is the
  // dense block; some fresh gives the dense rows there and cached branch rows elsewhere.
  Transformer::Branches token_cache{{}, cache.cross_attention, cache.feed_forward};
  const int64_t n = hidden.size(1);
  EXPECT_LT(RelativeError(model->BlockWithCache(0, hidden, now, rope, token_cache,
                                                at::arange(n, at::kLong), nullptr),
                          dense, "all_fresh"),
            1e-6);
  const at::Tensor fresh = at::arange(0, n, 3, at::kLong);
  Transformer::Branches used;
  const at::Tensor partial = model->BlockWithCache(0, hidden, now, rope, token_cache, fresh, &used);
  EXPECT_LT(
      RelativeError(partial.index_select(1, fresh), dense.index_select(1, fresh), "fresh_rows"),
      1e-6);
  EXPECT_GT(RelativeError(partial, dense, "cached_rows"), 1e-3);
  const at::Tensor stale = at::ones({n}, at::kBool).index_fill(0, fresh, false);
  EXPECT_TRUE(at::equal(used.feed_forward.index({at::indexing::Slice(), stale}),
                        cache.feed_forward.index({at::indexing::Slice(), stale})));
  EXPECT_TRUE(at::equal(used.cross_attention.index({at::indexing::Slice(), stale}),
                        cache.cross_attention.index({at::indexing::Slice(), stale})));
  EXPECT_FALSE(at::equal(used.feed_forward, cache.feed_forward));
}

TEST_F(TransformerGoldenTest, ModulatedInputIsTheModulatedLayerNorm) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  c10::InferenceMode inference;
  ASSERT_OK_AND_ASSIGN(const auto weights,
                       Checkpoint::Open(RunfilePath("tests/golden/wan_tiny/transformer"),
                                        "diffusion_pytorch_model"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor table,
                       weights->Load("blocks.1.scale_shift_table", at::kFloat));
  const Transformer::Conditioning conditioning = model->Condition(timestep_, text_);
  const at::Tensor hidden = model->PatchEmbed(latents_);
  const auto mod = (table + conditioning.modulation).chunk(6, 1);
  const at::Tensor expected =
      at::layer_norm(hidden, {hidden.size(-1)}, {}, {}, model->config().eps) * (1 + mod[1]) +
      mod[0];
  EXPECT_LT(RelativeError(model->ModulatedInput(1, hidden, conditioning), expected, "modulated"),
            1e-6);
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
