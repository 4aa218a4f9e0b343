#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>

#include "absl/strings/str_cat.h"
#include "engine/common/internal/cuda_devices.h"

namespace videogen::engine::internal {

absl::StatusOr<std::vector<DeviceInfo>> ListCudaDevices() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver) {
    cudaGetLastError();  // Clear the sticky error so later CUDA calls start clean.
    return std::vector<DeviceInfo>();
  }
  if (error != cudaSuccess) {
    return absl::InternalError(absl::StrCat("cudaGetDeviceCount: ", cudaGetErrorString(error)));
  }
  std::vector<DeviceInfo> devices;
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp properties;
    if (const cudaError_t e = cudaGetDeviceProperties(&properties, index); e != cudaSuccess) {
      return absl::InternalError(
          absl::StrCat("cudaGetDeviceProperties(", index, "): ", cudaGetErrorString(e)));
    }
    devices.push_back({index, properties.name, static_cast<int64_t>(properties.totalGlobalMem)});
  }
  return devices;
}

namespace {

// Whether this process sees CUDA device `device` (c10 counts none on a host without GPUs or
// driver, where the allocator's calls would throw).
bool Visible(int device) { return device >= 0 && device < c10::cuda::device_count(); }

}  // namespace

int64_t PeakAllocatedBytes(int device) {
  if (!Visible(device)) return 0;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
      .peak;
}

void ResetPeakAllocated(int device) {
  if (Visible(device)) c10::cuda::CUDACachingAllocator::resetPeakStats(device);
}

}  // namespace videogen::engine::internal
