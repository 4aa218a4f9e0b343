#include "engine/wan/transformer_config.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::wan {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

// The 1.3B model's transformer/config.json.
constexpr char k13B[] = R"({
  "_class_name": "WanTransformer3DModel", "_diffusers_version": "0.33.0.dev0",
  "added_kv_proj_dim": null, "attention_head_dim": 128, "cross_attn_norm": true, "eps": 1e-06,
  "ffn_dim": 8960, "freq_dim": 256, "image_dim": null, "in_channels": 16, "num_attention_heads": 12,
  "num_layers": 30, "out_channels": 16, "patch_size": [1, 2, 2], "pos_embed_seq_len": null,
  "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096})";

TEST(TransformerConfigTest, Parses13BConfig) {
  ASSERT_OK_AND_ASSIGN(const TransformerConfig c, ParseTransformerConfig(k13B, "config.json"));
  EXPECT_EQ(c.dim(), 1536);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.ffn_dim, 8960);
  EXPECT_EQ(c.patch_h, 2);
  EXPECT_DOUBLE_EQ(c.eps, 1e-6);
  // RoPE split of a 128-wide head: 44 (frames) + 42 (rows) + 42 (columns).
  EXPECT_EQ(c.rope_t_dim(), 44);
  EXPECT_EQ(c.rope_h_dim(), 42);
  EXPECT_EQ(c.rope_w_dim(), 42);
}

TEST(TransformerConfigTest, RejectsBadAndUnsupportedFields) {
  struct Case {
    std::string from, to, message;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {R"("num_layers": 30)", R"("num_layers": 0)", "num_layers = 0",
       absl::StatusCode::kInvalidArgument},
      {R"("num_layers": 30)", R"("num_layers": "30")", "num_layers must be an integer",
       absl::StatusCode::kInvalidArgument},
      {R"("patch_size": [1, 2, 2])", R"("patch_size": [1, 2])", "patch_size",
       absl::StatusCode::kInvalidArgument},
      {R"("freq_dim": 256)", R"("freq_dim": 255)", "freq_dim must be even",
       absl::StatusCode::kInvalidArgument},
      {R"("text_dim": 4096)", R"("text_dim": 4096, "rope_theta": 5)",
       "unknown field \"rope_theta\"", absl::StatusCode::kInvalidArgument},
      {R"("image_dim": null)", R"("image_dim": 1280)", "image-to-video",
       absl::StatusCode::kUnimplemented},
      {R"("qk_norm": "rms_norm_across_heads")", R"("qk_norm": "rms_norm")", "qk_norm",
       absl::StatusCode::kUnimplemented},
      {R"("eps": 1e-06)", R"("eps": 1e-06, "eps": 1e-05)", "repeats the key",
       absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    const std::string text = absl::StrReplaceAll(k13B, {{c.from, c.to}});
    ASSERT_NE(text, k13B) << c.from;
    EXPECT_THAT(
        ParseTransformerConfig(text, "t/config.json"),
        StatusIs(c.code, ::testing::AllOf(HasSubstr("t/config.json"), HasSubstr(c.message))))
        << c.to;
  }
}

}  // namespace
}  // namespace videogen::engine::wan
