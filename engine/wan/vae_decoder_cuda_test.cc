// The VAE decoder on the GPU: the tiny golden VAE in float32 on CUDA against diffusers' CPU
// decode, frame by frame and in chunks, with TF32 convolutions off (exact float32) and on (the
// default, as diffusers runs on a GPU).
#include <memory>
#include <string>

#include "ATen/ATen.h"
#include "c10/core/InferenceMode.h"
#include "engine/wan/vae_decoder.h"
#include "engine/weights/checkpoint.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::wan {
namespace {

using ::videogen::testing::RelativeError;
using ::videogen::testing::RunfilePath;

TEST(VaeDecoderCudaTest, MatchesDiffusersOnTheGpu) {
  ASSERT_OK_AND_ASSIGN(const auto golden,
                       Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "vae_golden"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor latents, golden->Load("latents", at::kFloat));
  ASSERT_OK_AND_ASSIGN(const at::Tensor expected, golden->Load("video", at::kFloat));
  ASSERT_OK_AND_ASSIGN(const auto decoder,
                       VaeDecoder::Load(RunfilePath("tests/golden/wan_tiny/vae"), at::kFloat,
                                        at::Device(at::kCUDA)));
  c10::InferenceMode inference;
  const at::Tensor input = latents.cuda();
  ASSERT_OK(decoder->Validate(input));
  const bool tf32_default = at::globalContext().allowTF32CuDNN();
  for (const bool tf32 : {false, true}) {
    at::globalContext().setAllowTF32CuDNN(tf32);
    for (const int64_t chunk : {1, 3, 0}) {
      SCOPED_TRACE(::testing::Message() << "tf32 " << tf32 << ", chunk " << chunk);
      const at::Tensor video = decoder->Decode(input, {chunk});
      EXPECT_TRUE(video.is_cuda());
      const std::string name = (tf32 ? "tf32_chunk_" : "fp32_chunk_") + std::to_string(chunk);
      EXPECT_LT(RelativeError(video, expected, name), tf32 ? 5e-3 : 1e-5);
    }
  }
  at::globalContext().setAllowTF32CuDNN(tf32_default);
}

}  // namespace
}  // namespace videogen::engine::wan
