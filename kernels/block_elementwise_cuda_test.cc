// The CUDA block stages against the CPU reference on fresh random inputs. Needs a GPU.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/bfloat16.h"
#include "kernels/block_elementwise.h"
#include "kernels/block_elementwise_cuda.h"
#include "kernels/testing/device_memory.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using testing::Download;
using testing::Upload;

struct Size {
  int64_t batch, tokens, hidden;
};
const Size kSizes[] = {{2, 14040 / 8, 1536}, {1, 333, 1536}, {1, 9, 5120}, {2, 17, 70}, {1, 5, 3}};

template <typename T>
void CheckLayerNorm(const Size& size, bool affine, bool modulated, std::mt19937_64& rng) {
  SCOPED_TRACE(absl::StrCat("hidden=", size.hidden, " affine=", affine, " modulated=", modulated));
  std::normal_distribution<float> normal(0.5f, 2.0f);
  const int64_t n = size.batch * size.tokens * size.hidden;
  std::vector<T> input(n);
  for (T& v : input) v = FromFloat<T>(normal(rng));
  std::vector<float> weight(size.hidden), bias(size.hidden), mod(size.batch * 3 * size.hidden);
  for (float& v : weight) v = normal(rng);
  for (float& v : bias) v = normal(rng);
  for (float& v : mod) v = 0.1f * normal(rng);

  LayerNormArgs host_args;
  host_args.vector_stride = 3 * size.hidden;
  if (affine) host_args.weight = weight.data(), host_args.bias = bias.data();
  if (modulated) host_args.scale = mod.data(), host_args.shift = mod.data() + size.hidden;
  std::vector<T> expected(n);
  ASSERT_OK(ModulatedLayerNormReference<T>({size.batch, size.tokens, size.hidden}, input.data(),
                                           host_args, expected.data()));

  T* d_input = Upload(input);
  float* d_weight = Upload(weight);
  float* d_bias = Upload(bias);
  float* d_mod = Upload(mod);
  T* d_output = Upload(std::vector<T>(n));
  ASSERT_EQ(cudaMemset(d_output, 0xFF, n * sizeof(T)), cudaSuccess);  // NaN poison.
  LayerNormArgs args = host_args;
  args.weight = affine ? d_weight : nullptr;
  args.bias = affine ? d_bias : nullptr;
  args.scale = modulated ? d_mod : nullptr;
  args.shift = modulated ? d_mod + size.hidden : nullptr;
  ASSERT_OK(ModulatedLayerNormCuda<T>({size.batch, size.tokens, size.hidden}, d_input, args,
                                      d_output, nullptr));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<T> got = Download(d_output, n);
  // The GPU reduces in float32 in another order than the float64 reference: allow float32
  // rounding (1e-5 relative) plus, for bf16 outputs, one unit in the last place.
  const float ulp = std::is_same_v<T, BFloat16> ? 1.0f / 128 : 0.0f;
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float g = ToFloat(got[i]), e = ToFloat(expected[i]);
    if (!(std::abs(g - e) <= 1e-5f * (1 + std::abs(e)) + ulp * std::abs(e))) ++bad;
  }
  EXPECT_EQ(bad, 0) << "of " << n;
  for (void* p :
       {static_cast<void*>(d_input), static_cast<void*>(d_weight), static_cast<void*>(d_bias),
        static_cast<void*>(d_mod), static_cast<void*>(d_output)}) {
    cudaFree(p);
  }
}

template <typename T>
void CheckGatedResidual(const Size& size, bool gated, std::mt19937_64& rng) {
  SCOPED_TRACE(absl::StrCat("hidden=", size.hidden, " gated=", gated));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = size.batch * size.tokens * size.hidden;
  std::vector<T> residual(n), update(n);
  for (T& v : residual) v = FromFloat<T>(normal(rng));
  for (T& v : update) v = FromFloat<T>(normal(rng));
  std::vector<float> gate(size.batch * 2 * size.hidden);
  for (float& v : gate) v = normal(rng);
  GatedResidualArgs host_args;
  host_args.gate = gated ? gate.data() : nullptr;
  host_args.vector_stride = 2 * size.hidden;
  std::vector<T> expected(n);
  ASSERT_OK(GatedResidualReference<T>({size.batch, size.tokens, size.hidden}, residual.data(),
                                      update.data(), host_args, expected.data()));
  T* d_residual = Upload(residual);
  T* d_update = Upload(update);
  float* d_gate = Upload(gate);
  GatedResidualArgs args = host_args;
  args.gate = gated ? d_gate : nullptr;
  // In place, as the transformer uses it.
  ASSERT_OK(GatedResidualCuda<T>({size.batch, size.tokens, size.hidden}, d_residual, d_update, args,
                                 d_residual, nullptr));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<T> got = Download(d_residual, n);
  EXPECT_EQ(std::memcmp(got.data(), expected.data(), n * sizeof(T)), 0);  // Same float32 ops.
  cudaFree(d_residual);
  cudaFree(d_update);
  cudaFree(d_gate);
}

TEST(BlockElementwiseCudaTest, LayerNormMatchesReference) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed=", seed));
  std::mt19937_64 rng(seed);
  for (const Size& size : kSizes) {
    for (bool affine : {false, true}) {
      for (bool modulated : {false, true}) {
        CheckLayerNorm<float>(size, affine, modulated, rng);
        CheckLayerNorm<BFloat16>(size, affine, modulated, rng);
      }
    }
  }
}

TEST(BlockElementwiseCudaTest, GatedResidualMatchesReferenceBitForBit) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed=", seed));
  std::mt19937_64 rng(seed);
  for (const Size& size : kSizes) {
    for (bool gated : {false, true}) {
      CheckGatedResidual<float>(size, gated, rng);
      CheckGatedResidual<BFloat16>(size, gated, rng);
    }
  }
}

}  // namespace
}  // namespace videogen::kernels
