// Helpers for the GPU benchmark binaries (tags = ["benchmark"]): abort on setup errors, wall
// clock, device-synchronised medians and the caching allocator's peak.
#ifndef VIDEOGEN_TESTS_TESTING_GPU_BENCHMARK_H_
#define VIDEOGEN_TESTS_TESTING_GPU_BENCHMARK_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "c10/cuda/CUDACachingAllocator.h"
#include "torch/cuda.h"

namespace videogen::testing {

// The value, or the status on stderr and exit(1): a benchmark has no way to recover.
template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::fprintf(stderr, "benchmark: %s\n", value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

inline double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Median wall time in ms of `iterations` calls of `fn`, the device synchronised around each.
template <typename Fn>
double MedianMs(int iterations, Fn fn) {
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    torch::cuda::synchronize();
    const double start = NowMs();
    fn();
    torch::cuda::synchronize();
    times.push_back(NowMs() - start);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Peak bytes allocated on GPU `device` since the last resetPeakStats(device), in GiB.
inline double PeakAllocatedGiB(int device = 0) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
             .peak /
         (1024.0 * 1024 * 1024);
}

}  // namespace videogen::testing

#endif  // VIDEOGEN_TESTS_TESTING_GPU_BENCHMARK_H_
