// Dense WanTransformer3DModel forward on a GPU at the real Wan2.1-1.3B configuration with random
// weights (bf16 with diffusers' fp32 keep-list), at 480x832 for 33 frames (9 latent frames,
// N = 14040 tokens) and 81 frames (21 latent frames, N = 32760), batch 1 and the CFG pair (2).
//
//   transformer_benchmark [--iterations=N] [--json=FILE]
//
// Prints a table (median / min time per forward, achieved TFLOP/s, peak device memory) and writes
// the same as JSON. FLOPs count the matrix products and attention (2 per multiply-add).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "c10/core/InferenceMode.h"
#include "c10/cuda/CUDACachingAllocator.h"
#include "engine/common/torch_status.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "torch/cuda.h"

ABSL_FLAG(int, iterations, 10, "Timed forwards per case (after 2 warm-up forwards).");
ABSL_FLAG(std::string, json, "", "If set, results are also written here as JSON.");
ABSL_FLAG(std::string, cases, "9x1,9x2,21x1,21x2",
          "Cases to time, comma-separated LATENT_FRAMESxBATCH (9 latent frames = 33 frames).");
ABSL_FLAG(std::string, attention, "auto",
          "Attention kernels to time, comma-separated: auto (cuDNN), aten, flash.");

namespace videogen::engine::wan {
namespace {

struct Case {
  int64_t latent_frames, batch;
};

struct Result {
  std::string attention;
  Case c;
  int64_t tokens;
  double median_ms, min_ms, tflops, peak_gib;
};

double ForwardFlops(const TransformerConfig& config, int64_t tokens, int64_t text_len) {
  const double n = tokens, d = config.dim(), f = config.ffn_dim, l = text_len;
  const double per_block = 2 * (4 * n * d * d)     // self-attention q, k, v, out
                           + 2 * (2 * n * n * d)   // QK^T and PV
                           + 2 * (2 * n * d * d)   // cross-attention q, out
                           + 2 * (2 * l * d * d)   // cross-attention k, v (text)
                           + 2 * (2 * n * l * d)   // cross-attention QK^T and PV
                           + 2 * (2 * n * d * f);  // FFN
  return config.num_layers * per_block;
}

std::unique_ptr<Transformer> RandomModel(const TransformerConfig& config, AttentionKernel kernel) {
  LoadOptions policy;
  policy.dtype = at::kBFloat16;
  policy.keep_in_fp32_modules = Transformer::KeepInFp32Modules();
  TransformerOptions options;
  options.attention = kernel;
  auto model = Transformer::Create(
      config, testing::RandomWeights(Transformer::Parameters(config), policy, at::kCUDA),
      at::Device(at::kCUDA), options);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(model);
}

Result Run(const Transformer& model, const std::string& attention, const Case& c, int iterations) {
  const TransformerConfig& config = model.config();
  const auto cuda = at::TensorOptions().device(at::kCUDA);
  const at::Tensor latents =
      at::randn({c.batch, 16, c.latent_frames, 60, 104}, cuda).to(at::kBFloat16);
  const at::Tensor timestep = at::full({c.batch}, 999, cuda.dtype(at::kLong));
  const at::Tensor text = at::randn({c.batch, 512, config.text_dim}, cuda).to(at::kBFloat16);
  c10::cuda::CUDACachingAllocator::resetPeakStats(0);
  std::vector<double> times;
  for (int i = 0; i < iterations + 2; ++i) {
    torch::cuda::synchronize();
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor out = model.Forward(latents, timestep, text);
    torch::cuda::synchronize();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= 2) times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  const double peak =
      stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  const int64_t tokens = c.latent_frames * 30 * 52;
  const double median = times[times.size() / 2];
  return {attention,
          c,
          tokens,
          median,
          times.front(),
          c.batch * ForwardFlops(config, tokens, 512) / (median * 1e-3) / 1e12,
          peak / (1024.0 * 1024 * 1024)};
}

int Main() {
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "transformer_benchmark: no CUDA device\n");
    return 1;
  }
  c10::InferenceMode inference;
  const TransformerConfig config;  // The defaults are the 1.3B configuration.
  std::vector<Case> cases;
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_cases), ',')) {
    const std::vector<std::string> parts = absl::StrSplit(text, 'x');
    Case c;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &c.latent_frames) ||
        !absl::SimpleAtoi(parts[1], &c.batch) || c.latent_frames < 1 || c.batch < 1) {
      std::fprintf(stderr, "transformer_benchmark: bad --cases entry '%s'\n",
                   std::string(text).c_str());
      return 2;
    }
    cases.push_back(c);
  }
  const std::map<std::string, AttentionKernel> kernels = {{"auto", AttentionKernel::kAuto},
                                                          {"aten", AttentionKernel::kAten},
                                                          {"flash", AttentionKernel::kFlash}};
  std::vector<Result> results;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_attention), ',')) {
    const auto kernel = kernels.find(std::string(name));
    if (kernel == kernels.end()) {
      std::fprintf(stderr, "transformer_benchmark: unknown --attention kernel '%s'\n",
                   std::string(name).c_str());
      return 2;
    }
    const auto model = RandomModel(config, kernel->second);
    for (const Case& c : cases) {
      const absl::Status status = RunTorch("forward", [&] {
        results.push_back(Run(*model, kernel->first, c, absl::GetFlag(FLAGS_iterations)));
      });
      if (!status.ok()) {
        std::fprintf(stderr, "transformer_benchmark: %s\n", status.ToString().c_str());
        return 1;
      }
    }
  }
  std::printf("%-9s %-8s %-6s %-6s %12s %12s %10s %10s\n", "attention", "frames", "tokens", "batch",
              "median_ms", "min_ms", "TFLOP/s", "peak_GiB");
  std::vector<std::string> json;
  for (const Result& r : results) {
    std::printf("%-9s %-8lld %-6lld %-6lld %12.2f %12.2f %10.1f %10.2f\n", r.attention.c_str(),
                static_cast<long long>(r.c.latent_frames * 4 - 3), static_cast<long long>(r.tokens),
                static_cast<long long>(r.c.batch), r.median_ms, r.min_ms, r.tflops, r.peak_gib);
    json.push_back(absl::StrCat("{\"attention\": \"", r.attention,
                                "\", \"frames\": ", r.c.latent_frames * 4 - 3,
                                ", \"tokens\": ", r.tokens, ", \"batch\": ", r.c.batch,
                                ", \"median_ms\": ", r.median_ms, ", \"min_ms\": ", r.min_ms,
                                ", \"tflops\": ", r.tflops, ", \"peak_gib\": ", r.peak_gib, "}"));
  }
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << "{\"model\": \"wan2.1-t2v-1.3b (random weights, bf16)\", "
                        << "\"resolution\": \"480x832\", \"iterations\": "
                        << absl::GetFlag(FLAGS_iterations) << ", \"results\": ["
                        << absl::StrJoin(json, ", ") << "]}\n";
  }
  return 0;
}

}  // namespace
}  // namespace videogen::engine::wan

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return videogen::engine::wan::Main();
}
