// The CUDA devices visible to this process. Two implementations, picked by the build:
// cuda_devices_cuda.cc (--config=cuda, asks the CUDA runtime) and cuda_devices_none.cc (other
// builds, which contain no CUDA code and so see no devices).
#ifndef VIDEOGEN_ENGINE_COMMON_INTERNAL_CUDA_DEVICES_H_
#define VIDEOGEN_ENGINE_COMMON_INTERNAL_CUDA_DEVICES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "engine/common/runtime_info.h"

namespace videogen::engine::internal {

// Empty when no device or no driver is present; INTERNAL for other CUDA runtime errors.
absl::StatusOr<std::vector<DeviceInfo>> ListCudaDevices();

// PeakDeviceMemoryBytes() and ResetPeakDeviceMemory() of runtime_info.h.
int64_t PeakAllocatedBytes(int device);
void ResetPeakAllocated(int device);

}  // namespace videogen::engine::internal

#endif  // VIDEOGEN_ENGINE_COMMON_INTERNAL_CUDA_DEVICES_H_
