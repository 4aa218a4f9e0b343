// Checks the CUDA token selection against the CPU reference, exactly, on random inputs with many
// ties (unchanged tokens, equal skip counts) and NaNs, from one token to 720p-sized grids. Needs
// a GPU.
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/testing/device_memory.h"
#include "kernels/token_topk.h"
#include "kernels/token_topk_cuda.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using testing::Download;
using testing::Upload;

TEST(TokenTopKCudaTest, MatchesTheReferenceExactly) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int32_t> skips(0, 3);
  std::uniform_real_distribution<float> unit;
  constexpr int64_t kDim = 32;
  for (const int64_t n :
       {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{14040}, int64_t{32760}, int64_t{75600}}) {
    std::vector<float> lse(n), now(n * kDim), last(n * kDim);
    std::vector<int32_t> skip(n);
    for (int64_t t = 0; t < n; ++t) {
      lse[t] = 8 + normal(rng);
      const bool unchanged = unit(rng) < 0.5f;  // Ties: only the penalty scores these.
      for (int64_t j = 0; j < kDim; ++j) {
        last[t * kDim + j] = normal(rng);
        now[t * kDim + j] =
            unchanged ? last[t * kDim + j] : last[t * kDim + j] + 0.1f * normal(rng);
      }
      skip[t] = skips(rng);
      if (unit(rng) < 0.01f) lse[t] = std::numeric_limits<float>::quiet_NaN();
    }
    const TokenTopKParams params = TokenTopKParams::Make(1.0f, 0.5f, 1.0f / (kDim * 1536));
    float* d_lse = Upload(lse);
    float* d_now = Upload(now);
    float* d_last = Upload(last);
    int32_t* d_skip = Upload(skip);
    uint32_t* d_keys = Upload(std::vector<uint32_t>(n));
    for (const int64_t k : {int64_t{0}, int64_t{1}, n / 2, (4 * n + 5) / 10, n}) {
      SCOPED_TRACE(absl::StrCat("n ", n, ", k ", k));
      std::vector<int64_t> expected_selected(k);
      std::vector<int32_t> expected_slot(n);
      ASSERT_OK(TokenTopKReference({n, kDim, k}, lse.data(), now.data(), last.data(), skip.data(),
                                   params, expected_selected.data(), expected_slot.data()));
      int64_t* d_selected = Upload(std::vector<int64_t>(k, -7));
      int32_t* d_slot = Upload(std::vector<int32_t>(n, -7));
      ASSERT_OK(TokenTopKCuda({n, kDim, k}, d_lse, d_now, d_last, d_skip, params, d_keys,
                              d_selected, d_slot, nullptr));
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      EXPECT_EQ(Download(d_selected, k), expected_selected);
      EXPECT_EQ(Download(d_slot, n), expected_slot);
      cudaFree(d_selected);
      cudaFree(d_slot);
    }
    for (void* p :
         {static_cast<void*>(d_lse), static_cast<void*>(d_now), static_cast<void*>(d_last),
          static_cast<void*>(d_skip), static_cast<void*>(d_keys)}) {
      cudaFree(p);
    }
  }
}

}  // namespace
}  // namespace videogen::kernels
