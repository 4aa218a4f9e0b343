// The UMT5 encoder and the pipeline's prompt embeds against transformers 5.23 / diffusers 0.42.1
// (tests/golden/VERSIONS.json) on the tiny random-weight text encoder of tests/golden/wan_tiny
// (tools/golden/fixtures_text.py), in float32, bfloat16 and float16.
#include "engine/text/umt5_encoder.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "c10/core/InferenceMode.h"
#include "engine/text/tokenizer.h"
#include "engine/weights/checkpoint.h"
#include "engine/weights/testing/write_safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::text {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RelativeError;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

const std::string kEncoderDir = "tests/golden/wan_tiny/text_encoder";

class Umt5EncoderGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(golden_,
                         Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "text_golden"));
    ASSERT_OK_AND_ASSIGN(ids_, golden_->Load("ids", at::kLong));
    ASSERT_OK_AND_ASSIGN(mask_, golden_->Load("mask", at::kLong));
  }
  // Stored dtype kept (the bf16/fp16 references are compared as they are).
  at::Tensor Golden(const std::string& name, c10::ScalarType dtype) {
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, dtype);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : at::Tensor();
  }
  std::string Text(const std::string& name) {
    const at::Tensor bytes = Golden(name, at::kByte);
    if (!bytes.defined() || bytes.numel() == 0) return "";
    return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), bytes.numel());
  }
  std::unique_ptr<Umt5Encoder> LoadModel(c10::ScalarType dtype,
                                         const std::string& dir = RunfilePath(kEncoderDir)) {
    absl::StatusOr<std::unique_ptr<Umt5Encoder>> model = Umt5Encoder::Load(dir, dtype, at::kCPU);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *std::move(model) : nullptr;
  }
  // Tokenizes prompts `prefix`prompt.{0..n-1} with the fixture tokenizer: {ids, mask} [n, L].
  std::pair<at::Tensor, at::Tensor> Tokenize(const std::vector<std::string>& prompts,
                                             int64_t max_length) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
        Tokenizer::Load(RunfilePath("tests/golden/wan_tiny/tokenizer"));
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    std::vector<at::Tensor> ids, mask;
    for (const std::string& prompt : prompts) {
      absl::StatusOr<Tokenizer::Encoding> encoding = (*tokenizer)->Encode(prompt, max_length);
      EXPECT_TRUE(encoding.ok()) << encoding.status();
      ids.push_back(at::tensor(encoding->ids, at::kLong));
      mask.push_back(at::tensor(encoding->mask, at::kLong));
    }
    return {at::stack(ids), at::stack(mask)};
  }
  // A copy of the fixture's text encoder with `tensors` as its weights, in the test's temporary
  // directory.
  std::string WriteVariant(const std::string& name,
                           const std::map<std::string, at::Tensor>& tensors) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(RunfilePath(kEncoderDir) + "/config.json", dir + "/config.json",
                               std::filesystem::copy_options::overwrite_existing);
    EXPECT_OK(testing::WriteSafetensors(dir + "/model.safetensors", tensors));
    return dir;
  }
  std::map<std::string, at::Tensor> FixtureWeights() {
    absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint =
        Checkpoint::Open(RunfilePath(kEncoderDir), "model");
    EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
    std::map<std::string, at::Tensor> weights;
    for (const std::string& name : (*checkpoint)->TensorNames()) {
      weights[name] = *(*checkpoint)->Load(name, at::kFloat);
    }
    return weights;
  }

  std::unique_ptr<Checkpoint> golden_;
  at::Tensor ids_, mask_;
};

TEST_F(Umt5EncoderGoldenTest, Float32MatchesTransformers) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->dtype(), at::kFloat);
  ASSERT_OK(model->ValidateInputs(ids_, mask_));
  c10::InferenceMode inference;
  const at::Tensor hidden = model->Encode(ids_, mask_);
  EXPECT_EQ(hidden.sizes(), at::IntArrayRef({6, 16, 32}));
  EXPECT_LE(RelativeError(hidden, Golden("fp32.hidden", at::kFloat), "fp32_hidden"), 1e-5);
  const at::Tensor embeds = model->PromptEmbeds(ids_, mask_);
  EXPECT_LE(RelativeError(embeds, Golden("fp32.embeds", at::kFloat), "fp32_embeds"), 1e-5);
}

TEST_F(Umt5EncoderGoldenTest, BFloat16MatchesTransformersDtypePolicy) {
  const auto model = LoadModel(at::kBFloat16);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->dtype(), at::kBFloat16);
  c10::InferenceMode inference;
  const at::Tensor hidden = model->Encode(ids_, mask_);
  EXPECT_EQ(hidden.scalar_type(), at::kBFloat16);
  EXPECT_LE(RelativeError(hidden, Golden("bf16.hidden", at::kBFloat16), "bf16_hidden"), 2e-2);
  const at::Tensor embeds = model->PromptEmbeds(ids_, mask_);
  EXPECT_LE(RelativeError(embeds, Golden("bf16.embeds", at::kBFloat16), "bf16_embeds"), 2e-2);
  // bf16 against the float32 reference: what the dtype policy itself costs.
  RelativeError(hidden, Golden("fp32.hidden", at::kFloat), "bf16_vs_fp32_reference");
}

TEST_F(Umt5EncoderGoldenTest, Float16KeepsWoInFloat32AsTransformers) {
  const auto model = LoadModel(at::kHalf);
  ASSERT_NE(model, nullptr);
  c10::InferenceMode inference;
  const at::Tensor hidden = model->Encode(ids_, mask_);
  EXPECT_EQ(hidden.scalar_type(), at::kHalf);
  EXPECT_LE(RelativeError(hidden, Golden("fp16.hidden", at::kHalf), "fp16_hidden"), 1e-2);
}

TEST_F(Umt5EncoderGoldenTest, PaddedRowsAreExactlyZero) {
  const auto model = LoadModel(at::kBFloat16);
  ASSERT_NE(model, nullptr);
  c10::InferenceMode inference;
  const at::Tensor embeds = model->PromptEmbeds(ids_, mask_);
  const at::Tensor reference = Golden("bf16.embeds", at::kBFloat16);
  for (int64_t b = 0; b < ids_.size(0); ++b) {
    const int64_t length = mask_[b].sum().item<int64_t>();
    EXPECT_TRUE(embeds[b].slice(0, length).eq(0).all().item<bool>()) << b;
    EXPECT_TRUE(reference[b].slice(0, length).eq(0).all().item<bool>()) << b;
    EXPECT_FALSE(embeds[b].slice(0, 0, length).eq(0).all().item<bool>()) << b;
  }
}

TEST_F(Umt5EncoderGoldenTest, PromptsToEmbedsMatchPipeline) {
  // Strings in, prompt_embeds out: tokenizer + encoder + zeroing against diffusers.
  std::vector<std::string> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(Text(absl::StrCat("prompt.", i)));
  const auto [ids, mask] = Tokenize(prompts, 16);
  const auto model = LoadModel(at::kBFloat16);
  ASSERT_NE(model, nullptr);
  c10::InferenceMode inference;
  EXPECT_LE(RelativeError(model->PromptEmbeds(ids, mask), Golden("bf16.embeds", at::kBFloat16),
                          "pipeline_bf16_embeds"),
            2e-2);
  // encode_prompt's default negative prompt "".
  const auto [negative_ids, negative_mask] = Tokenize({""}, 16);
  EXPECT_LE(RelativeError(model->PromptEmbeds(negative_ids, negative_mask),
                          Golden("negative.bf16.embeds", at::kBFloat16), "negative_bf16_embeds"),
            2e-2);
}

TEST_F(Umt5EncoderGoldenTest, DefaultMaxLengthMatchesPipeline) {
  const auto [ids, mask] =
      Tokenize({Text("len512.prompt.0"), Text("len512.prompt.1")}, Tokenizer::kDefaultMaxLength);
  const auto model = LoadModel(at::kBFloat16);
  ASSERT_NE(model, nullptr);
  c10::InferenceMode inference;
  EXPECT_LE(RelativeError(model->PromptEmbeds(ids, mask),
                          Golden("len512.bf16.embeds", at::kBFloat16), "len512_bf16_embeds"),
            2e-2);
}

TEST_F(Umt5EncoderGoldenTest, TiedEmbeddingIsReadAsTransformersDoes) {
  c10::InferenceMode inference;
  const at::Tensor reference = Golden("fp32.hidden", at::kFloat);
  std::map<std::string, at::Tensor> weights = FixtureWeights();
  const at::Tensor embedding = weights.at("shared.weight");

  // Only encoder.embed_tokens.weight stored.
  weights.erase("shared.weight");
  weights["encoder.embed_tokens.weight"] = embedding;
  auto model = LoadModel(at::kFloat, WriteVariant("embed_tokens_only", weights));
  ASSERT_NE(model, nullptr);
  EXPECT_LE(RelativeError(model->Encode(ids_, mask_), reference, "embed_tokens_only"), 1e-5);

  // Both stored and different: transformers does not tie them and the encoder reads
  // encoder.embed_tokens.weight. A full UMT5 checkpoint's decoder tensors are ignored.
  weights["shared.weight"] = at::zeros_like(embedding);
  weights["decoder.final_layer_norm.weight"] = at::ones({32});
  model = LoadModel(at::kFloat, WriteVariant("both_embeddings", weights));
  ASSERT_NE(model, nullptr);
  EXPECT_LE(RelativeError(model->Encode(ids_, mask_), reference, "both_embeddings"), 1e-5);

  // Neither.
  weights.erase("shared.weight");
  weights.erase("encoder.embed_tokens.weight");
  EXPECT_THAT(Umt5Encoder::Load(WriteVariant("no_embedding", weights), at::kFloat, at::kCPU),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shared.weight")));
}

TEST_F(Umt5EncoderGoldenTest, PositionBucketsFollowT5) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  const at::Tensor buckets = model->PositionBuckets(300);
  // Row 0: key - query = k >= 0; exact below 8, then logarithmic, capped at 15 (+16: positive).
  EXPECT_EQ(buckets[0][0].item<int64_t>(), 0);
  EXPECT_EQ(buckets[0][7].item<int64_t>(), 16 + 7);
  EXPECT_EQ(buckets[0][8].item<int64_t>(), 16 + 8);
  EXPECT_EQ(buckets[0][16].item<int64_t>(), 16 + 10);  // 8 + trunc(ln 2 / ln 16 * 8) = 10.
  EXPECT_EQ(buckets[0][127].item<int64_t>(), 16 + 15);
  EXPECT_EQ(buckets[0][299].item<int64_t>(), 16 + 15);
  EXPECT_EQ(buckets[16][0].item<int64_t>(), 10);  // Negative distances: no offset.
  EXPECT_EQ(buckets[3][1].item<int64_t>(), 2);
}

TEST_F(Umt5EncoderGoldenTest, ValidateInputsNamesTheBadInput) {
  const auto model = LoadModel(at::kFloat);
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(model->ValidateInputs(ids_.to(at::kFloat), mask_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ids [6,16]")));
  EXPECT_THAT(model->ValidateInputs(ids_, mask_.slice(1, 0, 8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mask [6,8]")));
  EXPECT_THAT(model->ValidateInputs(ids_ + 1000, mask_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside [0, 176)")));
  EXPECT_THAT(
      Umt5Encoder::Load(RunfilePath("tests/golden/wan_tiny/tokenizer"), at::kFloat, at::kCPU),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("config.json")));
  EXPECT_THAT(Umt5Encoder::Load(RunfilePath(kEncoderDir), at::kDouble, at::kCPU),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace videogen::engine::text
