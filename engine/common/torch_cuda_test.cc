// LibTorch's CUDA backend as the engine uses it: tensor ops, device out-of-memory through the
// error boundary, and fused attention that returns the log-sum-exp (which ASTRAEA's token scores
// need). Needs a GPU.
#include <cmath>
#include <cstdint>
#include <tuple>

#include "ATen/ATen.h"
#include "engine/common/torch_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"
#include "torch/torch.h"

namespace videogen::engine {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RelativeError;
using ::videogen::testing::StatusIs;

TEST(TorchCudaTest, CudaIsAvailable) {
  ASSERT_TRUE(torch::cuda::is_available());
  EXPECT_GE(torch::cuda::device_count(), 1);
}

TEST(TorchCudaTest, MatmulMatchesFloat64Reference) {
  const auto a = torch::randn({512, 768});
  const auto b = torch::randn({768, 256});
  const auto on_gpu = torch::matmul(a.cuda(), b.cuda());
  ASSERT_TRUE(on_gpu.is_cuda());
  // float32 on the tensor cores may use TF32; 1e-2 covers that, not a wrong result.
  EXPECT_LT(RelativeError(on_gpu, torch::matmul(a.to(torch::kDouble), b.to(torch::kDouble))), 1e-2);
}

TEST(TorchCudaTest, DeviceOutOfMemoryIsResourceExhausted) {
  const auto result = RunTorchOr("job j-9 alloc", [] {
    return torch::empty({int64_t{1} << 50}, torch::TensorOptions().device(torch::kCUDA));
  });
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("job j-9 alloc")));
}

// Selected queries against all keys, as ASTRAEA's sparse-query attention runs it: cuDNN's fused
// kernel returns the output and each row's log-sum-exp.
TEST(TorchCudaTest, CudnnAttentionReturnsOutputAndLogSumExp) {
  const int64_t heads = 12, head_dim = 128, keys = 2048, queries = 800;
  const auto options = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const auto q = torch::randn({1, heads, queries, head_dim}, options);
  const auto k = torch::randn({1, heads, keys, head_dim}, options);
  const auto v = torch::randn({1, heads, keys, head_dim}, options);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));

  const auto result = at::_scaled_dot_product_cudnn_attention(q, k, v, /*attn_bias=*/std::nullopt,
                                                              /*compute_log_sumexp=*/true);
  const auto& out = std::get<0>(result);
  const auto& lse = std::get<1>(result);

  const auto logits =
      torch::matmul(q.to(torch::kDouble), k.to(torch::kDouble).transpose(-1, -2)) * scale;
  const auto expected_out = torch::matmul(torch::softmax(logits, -1), v.to(torch::kDouble));
  const auto expected_lse = torch::logsumexp(logits, -1);
  EXPECT_LT(RelativeError(out, expected_out), 1e-2);
  EXPECT_LT(RelativeError(lse.reshape(expected_lse.sizes()), expected_lse), 1e-3);
}

}  // namespace
}  // namespace videogen::engine
