// The transformer's parameter list at the released sizes, against diffusers' state dicts
// (WanTransformer3DModel built on the meta device with the configs below: 825 tensors /
// 1,418,996,800 parameters for 1.3B, 1095 / 14,288,491,584 for 14B).
#include <cstdint>
#include <string>

#include "engine/wan/transformer.h"
#include "engine/wan/transformer_config.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::wan {
namespace {

int64_t CountParameters(const ParameterShapes& shapes) {
  int64_t total = 0;
  for (const auto& [name, shape] : shapes) {
    int64_t numel = 1;
    for (const int64_t size : shape) numel *= size;
    total += numel;
  }
  return total;
}

// transformer/config.json of Wan2.1-T2V-{1.3B,14B}-Diffusers differ in width, FFN and depth.
std::string Config(int heads, int ffn, int layers) {
  return R"({"_class_name": "WanTransformer3DModel", "added_kv_proj_dim": null,
    "attention_head_dim": 128, "cross_attn_norm": true, "eps": 1e-06, "ffn_dim": )" +
         std::to_string(ffn) + R"(, "freq_dim": 256, "image_dim": null, "in_channels": 16,
    "num_attention_heads": )" +
         std::to_string(heads) + R"(, "num_layers": )" + std::to_string(layers) +
         R"(, "out_channels": 16, "patch_size": [1, 2, 2], "pos_embed_seq_len": null,
    "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096})";
}

TEST(TransformerTest, ParametersMatchDiffusersAt13BAnd14B) {
  ASSERT_OK_AND_ASSIGN(const TransformerConfig small,
                       ParseTransformerConfig(Config(12, 8960, 30), "1.3B"));
  EXPECT_EQ(Transformer::Parameters(small).size(), 825u);
  EXPECT_EQ(CountParameters(Transformer::Parameters(small)), 1418996800);
  ASSERT_OK_AND_ASSIGN(const TransformerConfig large,
                       ParseTransformerConfig(Config(40, 13824, 40), "14B"));
  EXPECT_EQ(large.dim(), 5120);
  EXPECT_EQ(Transformer::Parameters(large).size(), 1095u);
  EXPECT_EQ(CountParameters(Transformer::Parameters(large)), 14288491584);
}

}  // namespace
}  // namespace videogen::engine::wan
