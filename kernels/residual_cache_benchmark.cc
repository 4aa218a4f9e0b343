// Throughput of the residual-cache merge (CUDA) against the memory-traffic floor.
//
//   residual_cache_benchmark [--benchmark_out=FILE.json --benchmark_out_format=json]
//
// Each case is one block's merge at Wan2.1-1.3B sizes (hidden 1536; 480p 2 s = 14040 tokens and
// 5 s = 32760 tokens) for budgets theta. Reported: time per call (CUDA events, median of the
// repetitions) and achieved bandwidth counting the bytes the merge must move:
// read input + computed + cache of skipped rows, write output + cache of computed rows.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/bfloat16.h"
#include "kernels/residual_cache.h"
#include "kernels/residual_cache_cuda.h"
#include "kernels/testing/residual_cache_case.h"

namespace videogen::kernels {
namespace {

template <typename T>
T* Upload(const std::vector<T>& host) {
  T* device = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&device), host.size() * sizeof(T));
  cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  return device;
}

template <typename T>
void BM_ResidualCacheScatter(benchmark::State& state) {
  const int64_t tokens = state.range(0);
  const int64_t hidden = 1536;
  const double theta = state.range(1) / 10.0;
  const int64_t computed_rows = static_cast<int64_t>(theta * tokens + 0.5);
  // Random inputs are slow to draw on the host; draw each size once, not once per repetition.
  static auto* cases = new std::map<std::pair<int64_t, int64_t>, testing::ResidualCacheCase<T>>();
  auto [it, inserted] = cases->try_emplace({tokens, computed_rows});
  if (inserted) {
    std::mt19937_64 rng(1234);
    it->second = testing::MakeResidualCacheCase<T>(tokens, hidden, computed_rows, rng);
  }
  const testing::ResidualCacheCase<T>& c = it->second;
  T* input = Upload(c.input);
  T* computed = Upload(c.computed);
  T* cache = Upload(c.cache);
  int32_t* slot = Upload(c.slot);
  T* output = Upload(c.input);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);

  for (int i = 0; i < 3; ++i) {  // Warm-up.
    (void)ResidualCacheScatterCuda(c.shape, input, computed, slot, cache, output, nullptr);
  }
  for (auto _ : state) {
    cudaEventRecord(start);
    const absl::Status status =
        ResidualCacheScatterCuda(c.shape, input, computed, slot, cache, output, nullptr);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    if (!status.ok() || cudaGetLastError() != cudaSuccess) {
      state.SkipWithError("kernel failed");
      break;
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  const double row_bytes = static_cast<double>(hidden) * sizeof(T);
  const double bytes = row_bytes * (tokens * 2.0 + computed_rows * 2.0 + (tokens - computed_rows)) +
                       tokens * sizeof(int32_t);
  state.counters["bytes"] = bytes;
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  for (void* p :
       {static_cast<void*>(input), static_cast<void*>(computed), static_cast<void*>(cache),
        static_cast<void*>(slot), static_cast<void*>(output)}) {
    cudaFree(p);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t tokens : {14040, 32760}) {
    for (int64_t theta_tenths : {0, 4, 10}) b->Args({tokens, theta_tenths});
  }
  b->ArgNames({"tokens", "theta_x10"})->UseManualTime()->Unit(benchmark::kMicrosecond);
  b->Repetitions(5)->ReportAggregatesOnly(true);
}

BENCHMARK_TEMPLATE(BM_ResidualCacheScatter, BFloat16)->Apply(Sizes);
BENCHMARK_TEMPLATE(BM_ResidualCacheScatter, float)->Apply(Sizes);

}  // namespace
}  // namespace videogen::kernels

BENCHMARK_MAIN();
