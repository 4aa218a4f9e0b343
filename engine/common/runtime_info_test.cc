#include "engine/common/runtime_info.h"

#include "ATen/ATen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "torch/cuda.h"

namespace videogen::engine {
namespace {

using ::testing::IsEmpty;
using ::testing::StartsWith;

// Runs everywhere: on the CPU CI machine it sees no devices; under --config=cuda on the GPU
// machine (through the bundle) it must see them.
TEST(RuntimeInfoTest, ReportsTheTorchReleaseAndAConsistentDeviceList) {
  ASSERT_OK_AND_ASSIGN(const RuntimeInfo info, GetRuntimeInfo());
  EXPECT_THAT(info.torch_version, StartsWith("2.11.0"));
  EXPECT_EQ(info.cuda_available, torch::cuda::is_available());
  if (!info.cuda_available) return;
  ASSERT_EQ(static_cast<int64_t>(info.devices.size()), torch::cuda::device_count());
  for (size_t i = 0; i < info.devices.size(); ++i) {
    EXPECT_EQ(info.devices[i].index, static_cast<int>(i));
    EXPECT_THAT(info.devices[i].name, ::testing::Not(IsEmpty()));
    EXPECT_GT(info.devices[i].total_memory_bytes, int64_t{1} << 30);
  }
}

// The server records every job's peak, on CPU engines too (device 0): a device the process does
// not see reads 0 rather than failing, in CUDA builds on hosts without GPUs as well.
TEST(RuntimeInfoTest, PeakMemoryOfADeviceNotSeenIsZero) {
  const int missing = static_cast<int>(torch::cuda::device_count());
  ResetPeakDeviceMemory(missing);
  EXPECT_EQ(PeakDeviceMemoryBytes(missing), 0);
  ResetPeakDeviceMemory(-1);
  EXPECT_EQ(PeakDeviceMemoryBytes(-1), 0);
}

TEST(RuntimeInfoTest, PeakMemoryCountsAnAllocationOnAGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ResetPeakDeviceMemory(0);
  constexpr int64_t kBytes = int64_t{64} << 20;
  {
    const at::Tensor block = at::empty({kBytes}, at::TensorOptions(at::kByte).device(at::kCUDA, 0));
    EXPECT_GE(PeakDeviceMemoryBytes(0), kBytes);
  }
  ResetPeakDeviceMemory(0);
  EXPECT_LT(PeakDeviceMemoryBytes(0), kBytes);
}

}  // namespace
}  // namespace videogen::engine
