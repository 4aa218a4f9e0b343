#include "engine/text/umt5_config.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::text {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

// The fields of a umT5-XXL text_encoder/config.json as written by transformers 4.x (Wan2.1's
// diffusers repos), including those the encoder ignores.
constexpr char kXxl[] = R"({
  "_name_or_path": "google/umt5-xxl", "architectures": ["UMT5EncoderModel"],
  "classifier_dropout": 0.0, "d_ff": 10240, "d_kv": 64, "d_model": 4096,
  "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1,
  "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0,
  "is_encoder_decoder": true, "is_gated_act": true, "layer_norm_epsilon": 1e-06,
  "model_type": "umt5", "num_decoder_layers": 24, "num_heads": 64, "num_layers": 24,
  "output_past": true, "pad_token_id": 0, "relative_attention_max_distance": 128,
  "relative_attention_num_buckets": 32, "scalable_attention": true,
  "tie_word_embeddings": false, "tokenizer_class": "T5Tokenizer", "torch_dtype": "float32",
  "transformers_version": "4.49.0", "use_cache": true, "vocab_size": 256384})";

TEST(Umt5ConfigTest, ParsesXxlConfig) {
  ASSERT_OK_AND_ASSIGN(const Umt5Config c, ParseUmt5Config(kXxl, "config.json"));
  EXPECT_EQ(c.vocab_size, 256384);
  EXPECT_EQ(c.d_model, 4096);
  EXPECT_EQ(c.inner_dim(), 4096);
  EXPECT_EQ(c.d_ff, 10240);
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.relative_attention_num_buckets, 32);
  EXPECT_EQ(c.relative_attention_max_distance, 128);
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-6);
}

TEST(Umt5ConfigTest, OptionalFieldsTakeTransformersDefaults) {
  ASSERT_OK_AND_ASSIGN(const Umt5Config c,
                       ParseUmt5Config(R"({"vocab_size": 10, "d_model": 8, "d_kv": 2, "d_ff": 16,
                          "num_layers": 1, "num_heads": 4})",
                                       "config.json"));
  EXPECT_EQ(c.relative_attention_num_buckets, 32);
  EXPECT_EQ(c.relative_attention_max_distance, 128);
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-6);
}

TEST(Umt5ConfigTest, RejectsBadAndUnsupportedFields) {
  struct Case {
    std::string from, to, message;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {R"("d_model": 4096)", R"("d_model": 0)", "d_model = 0", absl::StatusCode::kInvalidArgument},
      {R"("d_model": 4096,)", "", "d_model must be an integer", absl::StatusCode::kInvalidArgument},
      {R"("num_heads": 64)", R"("num_heads": 64.0)", "num_heads must be an integer",
       absl::StatusCode::kInvalidArgument},
      {R"("vocab_size": 256384)", R"("vocab_size": 256384, "rope_theta": 1)",
       "unknown field \"rope_theta\"", absl::StatusCode::kInvalidArgument},
      {R"("relative_attention_num_buckets": 32)", R"("relative_attention_num_buckets": 2)",
       "relative_attention_num_buckets", absl::StatusCode::kInvalidArgument},
      {R"("relative_attention_max_distance": 128)", R"("relative_attention_max_distance": 8)",
       "relative_attention_max_distance", absl::StatusCode::kInvalidArgument},
      {R"("layer_norm_epsilon": 1e-06)", R"("layer_norm_epsilon": -1)", "layer_norm_epsilon",
       absl::StatusCode::kInvalidArgument},
      {R"("eos_token_id": 1)", R"("eos_token_id": 1, "eos_token_id": 2)", "repeats the key",
       absl::StatusCode::kInvalidArgument},
      {R"("feed_forward_proj": "gated-gelu")", R"("feed_forward_proj": "relu")",
       "feed_forward_proj", absl::StatusCode::kUnimplemented},
      {R"("feed_forward_proj": "gated-gelu")", R"("feed_forward_proj": "gated-silu")",
       "feed_forward_proj", absl::StatusCode::kUnimplemented},
      {R"("model_type": "umt5")", R"("model_type": "t5")", "model_type",
       absl::StatusCode::kUnimplemented},
      {R"("output_past": true)", R"("output_past": true, "is_decoder": true)", "is_decoder",
       absl::StatusCode::kUnimplemented},
  };
  for (const Case& c : cases) {
    const std::string text = absl::StrReplaceAll(kXxl, {{c.from, c.to}});
    ASSERT_NE(text, kXxl) << c.from;
    EXPECT_THAT(
        ParseUmt5Config(text, "te/config.json"),
        StatusIs(c.code, ::testing::AllOf(HasSubstr("te/config.json"), HasSubstr(c.message))))
        << c.to;
  }
  EXPECT_THAT(ParseUmt5Config("[1]", "te/config.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an object")));
  EXPECT_THAT(LoadUmt5Config("/nonexistent/config.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/config.json")));
}

}  // namespace
}  // namespace videogen::engine::text
