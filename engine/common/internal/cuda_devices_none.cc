#include "engine/common/internal/cuda_devices.h"

namespace videogen::engine::internal {

absl::StatusOr<std::vector<DeviceInfo>> ListCudaDevices() { return std::vector<DeviceInfo>(); }

}  // namespace videogen::engine::internal
