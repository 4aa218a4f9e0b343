#include "engine/wan/vae_config.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::wan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

// Wan2.1-T2V-1.3B-Diffusers' vae/config.json.
constexpr char kWan21[] = R"({
  "_class_name": "AutoencoderKLWan", "_diffusers_version": "0.33.0.dev0", "attn_scales": [],
  "base_dim": 96, "dim_mult": [1, 2, 4, 4], "dropout": 0.0,
  "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                   0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
  "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                  3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916],
  "num_res_blocks": 2, "temperal_downsample": [false, true, true], "z_dim": 16})";

TEST(VaeConfigTest, ParsesWan21Config) {
  ASSERT_OK_AND_ASSIGN(const VaeConfig c, ParseVaeConfig(kWan21, "config.json"));
  EXPECT_EQ(c.z_dim, 16);
  EXPECT_THAT(c.DecoderDims(), ElementsAre(384, 384, 384, 192, 96));
  // The decoder reverses the encoder's temporal downsampling.
  EXPECT_TRUE(c.UpsamplesTime(0));
  EXPECT_TRUE(c.UpsamplesTime(1));
  EXPECT_FALSE(c.UpsamplesTime(2));
  EXPECT_EQ(c.TemporalFactor(), 4);
  EXPECT_EQ(c.SpatialFactor(), 8);
  ASSERT_EQ(c.latents_std.size(), 16u);
  EXPECT_DOUBLE_EQ(c.latents_mean[7], 1.5508);
  EXPECT_DOUBLE_EQ(c.latents_std[15], 1.916);
}

TEST(VaeConfigTest, DecoderBaseDimOverridesBaseDim) {
  const std::string json = absl::StrReplaceAll(
      kWan21, {{R"("base_dim": 96)", R"("base_dim": 96, "decoder_base_dim": 32)"}});
  ASSERT_OK_AND_ASSIGN(const VaeConfig c, ParseVaeConfig(json, "config.json"));
  EXPECT_THAT(c.DecoderDims(), ElementsAre(128, 128, 128, 64, 32));
}

TEST(VaeConfigTest, RejectsBadAndUnsupportedFields) {
  struct Case {
    std::string from, to, message;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {R"("z_dim": 16)", R"("z_dim": 8)", "latents_mean must be an array of 8",
       absl::StatusCode::kInvalidArgument},
      {R"("latents_std": [2.8184,)", R"("latents_std": [0,)", "latents_std must be an array",
       absl::StatusCode::kInvalidArgument},
      {R"("dim_mult": [1, 2, 4, 4])", R"("dim_mult": [1, 2, "4", 4])", "dim_mult must be an array",
       absl::StatusCode::kInvalidArgument},
      {R"("dim_mult": [1, 2, 4, 4])", R"("dim_mult": [4])", "dim_mult must have 2 to 8",
       absl::StatusCode::kInvalidArgument},
      {R"("temperal_downsample": [false, true, true])", R"("temperal_downsample": [true, true])",
       "temperal_downsample must be an array of 3", absl::StatusCode::kInvalidArgument},
      {R"("z_dim": 16)", R"("z_dim": 16, "scale_factor_temporal": 8)",
       "scale_factor_temporal = 8 is outside [4, 4]", absl::StatusCode::kInvalidArgument},
      {R"("z_dim": 16)", R"("z_dim": 16, "clip_output": true)", "unknown field \"clip_output\"",
       absl::StatusCode::kInvalidArgument},
      {R"("z_dim": 16)", R"("z_dim": 16, "is_residual": true)", "Wan2.2",
       absl::StatusCode::kUnimplemented},
      {R"("z_dim": 16)", R"("z_dim": 16, "patch_size": 2)", "patch_size",
       absl::StatusCode::kUnimplemented},
  };
  for (const Case& c : cases) {
    const std::string json = absl::StrReplaceAll(kWan21, {{c.from, c.to}});
    ASSERT_NE(json, kWan21) << c.from;
    EXPECT_THAT(
        ParseVaeConfig(json, "vae/config.json"),
        StatusIs(c.code, ::testing::AllOf(HasSubstr("vae/config.json"), HasSubstr(c.message))))
        << c.to;
  }
}

TEST(VaeConfigTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadVaeConfig("/nonexistent/vae/config.json"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace videogen::engine::wan
