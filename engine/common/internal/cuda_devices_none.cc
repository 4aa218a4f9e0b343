#include "engine/common/internal/cuda_devices.h"

namespace videogen::engine::internal {

absl::StatusOr<std::vector<DeviceInfo>> ListCudaDevices() { return std::vector<DeviceInfo>(); }

int64_t PeakAllocatedBytes(int) { return 0; }

void ResetPeakAllocated(int) {}

}  // namespace videogen::engine::internal
