// The transformer on the GPU: the tiny golden model in bf16 on CUDA against diffusers' float32
// output (bf16-level agreement), and the same forward in float32 on CUDA (TF32 off) against it.
#include <memory>
#include <string>

#include "ATen/ATen.h"
#include "c10/core/InferenceMode.h"
#include "engine/wan/transformer.h"
#include "engine/weights/checkpoint.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::wan {
namespace {

using ::videogen::testing::RelativeError;
using ::videogen::testing::RunfilePath;

TEST(TransformerCudaTest, MatchesDiffusersOnTheGpu) {
  ASSERT_OK_AND_ASSIGN(const auto golden, Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"),
                                                           "transformer_golden"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor latents, golden->Load("latents", at::kFloat));
  ASSERT_OK_AND_ASSIGN(const at::Tensor timestep, golden->Load("timestep", at::kLong));
  ASSERT_OK_AND_ASSIGN(const at::Tensor text, golden->Load("text", at::kFloat));
  ASSERT_OK_AND_ASSIGN(const at::Tensor expected, golden->Load("fp32.output", at::kFloat));
  const std::string dir = RunfilePath("tests/golden/wan_tiny/transformer");
  const at::Device cuda(at::kCUDA);
  c10::InferenceMode inference;
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);  // The patch embedding is a cuDNN convolution.

  ASSERT_OK_AND_ASSIGN(const auto fp32, Transformer::Load(dir, at::kFloat, cuda));
  ASSERT_OK(fp32->ValidateInputs(latents.cuda(), timestep.cuda(), text.cuda()));
  const at::Tensor out32 = fp32->Forward(latents.cuda(), timestep.cuda(), text.cuda());
  EXPECT_TRUE(out32.is_cuda());
  EXPECT_LT(RelativeError(out32, expected, "fp32_cuda"), 1e-4);

  ASSERT_OK_AND_ASSIGN(const auto bf16, Transformer::Load(dir, at::kBFloat16, cuda));
  const at::Tensor out16 = bf16->Forward(latents.cuda().to(at::kBFloat16), timestep.cuda(),
                                         text.cuda().to(at::kBFloat16));
  EXPECT_EQ(out16.scalar_type(), at::kBFloat16);
  EXPECT_LT(RelativeError(out16, expected, "bf16_cuda"), 2e-2);
}

}  // namespace
}  // namespace videogen::engine::wan
