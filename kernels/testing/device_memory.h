// Test helpers moving host vectors to and from device memory (GoogleTest expectations on every
// CUDA call). Testing only; the caller frees uploads with cudaFree.
#ifndef VIDEOGEN_KERNELS_TESTING_DEVICE_MEMORY_H_
#define VIDEOGEN_KERNELS_TESTING_DEVICE_MEMORY_H_

#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace videogen::kernels::testing {

// A new device copy of `host` (at least one element is allocated, so empty vectors work too).
template <typename T>
T* Upload(const std::vector<T>& host) {
  T* device = nullptr;
  EXPECT_EQ(
      cudaMalloc(reinterpret_cast<void**>(&device), std::max<size_t>(1, host.size()) * sizeof(T)),
      cudaSuccess);
  EXPECT_EQ(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
            cudaSuccess);
  return device;
}

template <typename T>
std::vector<T> Download(const T* device, size_t size) {
  std::vector<T> host(size);
  EXPECT_EQ(cudaMemcpy(host.data(), device, size * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

}  // namespace videogen::kernels::testing

#endif  // VIDEOGEN_KERNELS_TESTING_DEVICE_MEMORY_H_
