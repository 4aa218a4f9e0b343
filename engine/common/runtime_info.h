// What the engine runs on: the LibTorch release and the CUDA devices it can use.
#ifndef VIDEOGEN_ENGINE_COMMON_RUNTIME_INFO_H_
#define VIDEOGEN_ENGINE_COMMON_RUNTIME_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace videogen::engine {

struct DeviceInfo {
  int index = 0;
  std::string name;  // e.g. "NVIDIA H100 80GB HBM3".
  int64_t total_memory_bytes = 0;
};

struct RuntimeInfo {
  std::string torch_version;    // The LibTorch the binary was built against, e.g. "2.11.0".
  bool cuda_available = false;  // False in builds without --config=cuda and on hosts without GPUs.
  std::vector<DeviceInfo> devices;
};

// Queries LibTorch and the CUDA runtime. INTERNAL if the CUDA runtime fails to answer (e.g. a
// driver/runtime mismatch); no devices is not an error. Thread-safe.
absl::StatusOr<RuntimeInfo> GetRuntimeInfo();

// Peak bytes LibTorch's CUDA caching allocator has had allocated on CUDA device `device` since the
// process started or the last ResetPeakDeviceMemory(device). 0 (and the reset does nothing) for a
// device the process does not see: in builds without CUDA, and in CUDA builds on hosts without
// GPUs (e.g. the server image on a CPU node). Thread-safe.
int64_t PeakDeviceMemoryBytes(int device);
void ResetPeakDeviceMemory(int device);

}  // namespace videogen::engine

#endif  // VIDEOGEN_ENGINE_COMMON_RUNTIME_INFO_H_
