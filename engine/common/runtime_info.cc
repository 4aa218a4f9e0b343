#include "engine/common/runtime_info.h"

#include "engine/common/internal/cuda_devices.h"
#include "engine/common/status_macros.h"
#include "torch/cuda.h"
#include "torch/version.h"

namespace videogen::engine {

absl::StatusOr<RuntimeInfo> GetRuntimeInfo() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  VG_ASSIGN_OR_RETURN(info.devices, internal::ListCudaDevices());
  // LibTorch sees CUDA only when its CUDA backend is linked in (--config=cuda) and a device works.
  info.cuda_available = !info.devices.empty() && torch::cuda::is_available();
  return info;
}

int64_t PeakDeviceMemoryBytes(int device) { return internal::PeakAllocatedBytes(device); }

void ResetPeakDeviceMemory(int device) { internal::ResetPeakAllocated(device); }

}  // namespace videogen::engine
