// Checks the CUDA residual-cache merge against the CPU reference, bit for bit, on fresh random
// inputs (the seed is printed on failure). Needs a GPU.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/bfloat16.h"
#include "kernels/residual_cache.h"
#include "kernels/residual_cache_cuda.h"
#include "kernels/testing/residual_cache_case.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using ::videogen::testing::IsOk;
using ::videogen::testing::StatusIs;

#define ASSERT_CUDA(expr) ASSERT_EQ((expr), cudaSuccess) << cudaGetErrorString(cudaGetLastError())

// A device copy of a host vector; freed on destruction.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t size) : size_(size) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&data_), std::max<size_t>(1, size) * sizeof(T)),
              cudaSuccess);
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    EXPECT_EQ(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() { return data_; }
  std::vector<T> ToHost() const {
    std::vector<T> host(size_);
    EXPECT_EQ(cudaMemcpy(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost),
              cudaSuccess);
    return host;
  }

 private:
  T* data_ = nullptr;
  size_t size_;
};

template <typename T>
bool BitwiseEqual(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct Size {
  int64_t num_tokens, hidden, num_computed;
};

template <typename T>
void CheckAgainstReference(const Size& size, bool in_place) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed=", seed, " tokens=", size.num_tokens, " hidden=", size.hidden,
                            " computed=", size.num_computed, " in_place=", in_place));
  std::mt19937_64 rng(seed);
  auto c = testing::MakeResidualCacheCase<T>(size.num_tokens, size.hidden, size.num_computed, rng);

  std::vector<T> expected_cache = c.cache;
  std::vector<T> expected_output(c.input.size());
  ASSERT_THAT(
      ResidualCacheScatterReference(c.shape, c.input.data(), c.computed.data(), c.slot.data(),
                                    expected_cache.data(), expected_output.data()),
      IsOk());

  DeviceBuffer<T> input(c.input), computed(c.computed), cache(c.cache);
  DeviceBuffer<int32_t> slot(c.slot);
  DeviceBuffer<T> separate_output(c.input.size());
  // Poison the output (0xFF bytes are NaN in both types) so unwritten elements cannot pass.
  ASSERT_CUDA(cudaMemset(separate_output.get(), 0xFF, c.input.size() * sizeof(T)));
  DeviceBuffer<T>& output = in_place ? input : separate_output;

  ASSERT_THAT(ResidualCacheScatterCuda(c.shape, input.get(), computed.get(), slot.get(),
                                       cache.get(), output.get(), /*stream=*/nullptr),
              IsOk());
  ASSERT_CUDA(cudaDeviceSynchronize());
  EXPECT_TRUE(BitwiseEqual(output.ToHost(), expected_output));
  EXPECT_TRUE(BitwiseEqual(cache.ToHost(), expected_cache));
}

// Wan2.1-1.3B at 480p, 2 s (14040 tokens, hidden 1536) at budget 0.4; odd widths take the
// unvectorised path; all-computed and none-computed are the theta = 1 and theta = 0 extremes.
const Size kSizes[] = {
    {14040, 1536, 5616}, {1000, 1536, 1000}, {1000, 1536, 0}, {333, 70, 100}, {17, 3, 5}, {1, 8, 1},
};

TEST(ResidualCacheScatterCudaTest, MatchesReferenceFloat32) {
  for (const Size& size : kSizes) {
    CheckAgainstReference<float>(size, /*in_place=*/false);
    CheckAgainstReference<float>(size, /*in_place=*/true);
  }
}

TEST(ResidualCacheScatterCudaTest, MatchesReferenceBFloat16) {
  for (const Size& size : kSizes) {
    CheckAgainstReference<BFloat16>(size, /*in_place=*/false);
    CheckAgainstReference<BFloat16>(size, /*in_place=*/true);
  }
}

TEST(ResidualCacheScatterCudaTest, RejectsBadShapesBeforeLaunching) {
  DeviceBuffer<float> buffer(4);
  DeviceBuffer<int32_t> slot(2);
  EXPECT_THAT(ResidualCacheScatterCuda<float>({2, 2, 3}, buffer.get(), buffer.get(), slot.get(),
                                              buffer.get(), buffer.get(), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ResidualCacheScatterCuda<float>({2, 2, 1}, buffer.get(), buffer.get(), nullptr,
                                              buffer.get(), buffer.get(), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace videogen::kernels
