// The VAE decoder against diffusers' AutoencoderKLWan (tools/golden/fixtures_vae.py): a tiny
// random-weight VAE with Wan2.1's structure decoding 2 videos of 4 latent frames, float32 on the
// CPU, from the pipeline's denormalisation to the uint8 frames.
#include "engine/wan/vae_decoder.h"

#include <memory>
#include <string>

#include "ATen/ATen.h"
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

class VaeDecoderGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(golden_,
                         Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "vae_golden"));
    ASSERT_OK_AND_ASSIGN(
        decoder_, VaeDecoder::Load(RunfilePath("tests/golden/wan_tiny/vae"), at::kFloat, at::kCPU));
  }
  at::Tensor Golden(const std::string& name, c10::ScalarType dtype = at::kFloat) {
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, dtype);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : at::Tensor();
  }

  std::unique_ptr<Checkpoint> golden_;
  std::unique_ptr<VaeDecoder> decoder_;
};

TEST_F(VaeDecoderGoldenTest, EveryChunkSizeMatchesDiffusersFrameByFrameDecode) {
  const at::Tensor latents = Golden("latents");
  const at::Tensor expected = Golden("video");
  // 1 is diffusers' own schedule; 2 and 3 hand the causal state over mid-video (3 also leaves a
  // short last chunk); 0 decodes all 4 latent frames at once.
  for (const int64_t chunk : {1, 2, 3, 0}) {
    SCOPED_TRACE(chunk);
    const VaeDecodeOptions options{chunk};
    ASSERT_OK(decoder_->Validate(latents, options));
    const at::Tensor video = decoder_->Decode(latents, options);
    ASSERT_THAT(video.sizes(), ElementsAre(2, 3, 13, 48, 64));
    // Same LibTorch, same operations; convolutions over different frame counts may sum in a
    // different order, hence float32 rounding rather than bit equality.
    EXPECT_LT(RelativeError(video, expected, "video_rel_err_chunk_" + std::to_string(chunk)), 1e-5);
    EXPECT_LE(video.abs().max().item<float>(), 1.0f);
  }
}

TEST_F(VaeDecoderGoldenTest, Uint8FramesMatchDiffusersPostprocessing) {
  const at::Tensor frames = ToUint8Frames(decoder_->Decode(Golden("latents"), {1}));
  const at::Tensor expected = Golden("frames", at::kByte);
  ASSERT_THAT(frames.sizes(), ElementsAre(2, 13, 48, 64, 3));
  ASSERT_EQ(frames.scalar_type(), at::kByte);
  // A pixel may round the other way only if the float video sits within rounding error of a
  // half-level boundary. How many do depends on the CPU (oneDNN picks its convolution kernels by
  // instruction set): 21 of the 239,616 values on an AMD EPYC dev machine, fewer elsewhere.
  const at::Tensor diff = (frames.to(at::kInt) - expected.to(at::kInt)).abs();
  EXPECT_LE(diff.max().item<int>(), 1);
  EXPECT_LT(diff.gt(0).sum().item<int64_t>(), frames.numel() / 5000);
}

TEST_F(VaeDecoderGoldenTest, RejectsLatentsThatDoNotFit) {
  EXPECT_THAT(decoder_->Validate(at::zeros({1, 5, 2, 6, 8})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[B, 4, T, h, w]")));
  EXPECT_THAT(decoder_->Validate(at::zeros({1, 4, 0, 6, 8})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1,4,0,6,8]")));
  EXPECT_THAT(decoder_->Validate(at::zeros({1, 4, 2, 6, 8}, at::kLong)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("floating point")));
  EXPECT_THAT(decoder_->Validate(at::zeros({1, 4, 2, 6, 8}), {-1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("latent_frames_per_chunk")));
}

TEST_F(VaeDecoderGoldenTest, MissingOrMisshapedWeightIsNamed) {
  ASSERT_OK_AND_ASSIGN(const VaeConfig config,
                       LoadVaeConfig(RunfilePath("tests/golden/wan_tiny/vae/config.json")));
  ASSERT_OK_AND_ASSIGN(
      const auto checkpoint,
      Checkpoint::Open(RunfilePath("tests/golden/wan_tiny/vae"), "diffusion_pytorch_model"));
  LoadOptions load;
  load.ignore_unexpected = {"encoder", "quant_conv"};
  ASSERT_OK_AND_ASSIGN(auto weights,
                       checkpoint->LoadStateDict(VaeDecoder::Parameters(config), load));
  auto missing = weights;
  missing.erase("decoder.up_blocks.1.upsamplers.0.time_conv.weight");
  EXPECT_THAT(VaeDecoder::Create(config, missing, at::kCPU),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"decoder.up_blocks.1.upsamplers.0.time_conv.weight\" missing")));
  auto misshaped = weights;
  misshaped["decoder.norm_out.gamma"] = at::ones({4});
  EXPECT_THAT(VaeDecoder::Create(config, misshaped, at::kCPU),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"decoder.norm_out.gamma\" has shape [4], expected [4,1,1,1]")));
}

}  // namespace
}  // namespace videogen::engine::wan
