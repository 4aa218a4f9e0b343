#include "engine/common/runtime_info.h"

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

}  // namespace
}  // namespace videogen::engine
