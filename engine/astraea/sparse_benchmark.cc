// ASTRAEA's sparse forward against the engine's dense forward on a GPU, at the real
// Wan2.1-1.3B configuration with random weights (bf16, diffusers' fp32 keep-list), 480x832, 33
// and 81 frames (N = 14040, 32760), the CFG pair (two branches, each with its own state).
//
//   sparse_benchmark [--iterations=N] [--thetas=0.4,0.5,0.7] [--latent_frames=9,21]
//                    [--json=FILE] [--cost_model_dir=DIR]
//
// Per case: median time of the CFG pair of forwards, dense and at each uniform θ (after a dense
// step that fills the caches and one warm-up step), the speedup, the ideal speedup of the cost
// model 1 / (θ + (1 − θ) f_KV) with f_KV the FLOP share of the all-token work (K/V projections),
// the peak device memory and the caches' size; and the attention kernel alone with θ·N queries
// against all N keys, against θ × its dense time.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "c10/core/InferenceMode.h"
#include "c10/cuda/CUDACachingAllocator.h"
#include "engine/astraea/cost_model.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "tests/testing/gpu_benchmark.h"
#include "torch/cuda.h"

ABSL_FLAG(int, iterations, 7, "Timed CFG pairs per case.");
ABSL_FLAG(std::string, thetas, "0.4,0.5,0.7", "Uniform budgets to time, comma-separated.");
ABSL_FLAG(std::string, latent_frames, "9,21", "Latent frames (9 = 33 frames, 21 = 81).");
ABSL_FLAG(std::string, json, "", "If set, results are also written here as JSON.");
ABSL_FLAG(std::string, cost_model_dir, "",
          "If set, also times every budget level and writes the step cost model "
          "(StepCostModel JSON) to DIR/cost_model_<tokens>.json.");

namespace videogen::engine::astraea {
namespace {

using ::videogen::testing::MedianMs;
using ::videogen::testing::OrDie;
using ::videogen::testing::PeakAllocatedGiB;

// FLOP share of the per-block work that runs on all tokens whatever θ: the K and V projections.
double KvFraction(const wan::TransformerConfig& c, int64_t tokens, int64_t text_len) {
  const double n = tokens, d = c.dim(), f = c.ffn_dim, l = text_len;
  const double per_token = 8 * d * d + 4 * n * d + 4 * d * d + 4 * l * d + 4 * d * f;
  return 4 * d * d / per_token;
}

int Main() {
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "sparse_benchmark: no CUDA device\n");
    return 1;
  }
  c10::InferenceMode inference;
  const int iterations = absl::GetFlag(FLAGS_iterations);
  const wan::TransformerConfig config;  // 1.3B.
  LoadOptions policy;
  policy.dtype = at::kBFloat16;
  policy.keep_in_fp32_modules = wan::Transformer::KeepInFp32Modules();
  const at::Device cuda(at::kCUDA);
  const auto model = OrDie(wan::Transformer::Create(
      config, testing::RandomWeights(wan::Transformer::Parameters(config), policy, cuda), cuda));
  const auto sparse = OrDie(SparseTransformer::Create(*model));
  std::vector<double> thetas;
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_thetas), ',')) {
    if (!absl::SimpleAtod(text, &thetas.emplace_back())) return 2;
  }

  std::vector<std::string> table, json;
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_latent_frames), ',')) {
    int64_t frames = 0;
    if (!absl::SimpleAtoi(text, &frames)) return 2;
    const auto options = at::TensorOptions().device(cuda);
    const at::Tensor latents = at::randn({1, 16, frames, 60, 104}, options).to(at::kBFloat16);
    const at::Tensor timestep = at::full({1}, 500, options.dtype(at::kLong));
    const at::Tensor text_cond = at::randn({1, 512, 4096}, options).to(at::kBFloat16);
    const at::Tensor text_uncond = at::randn({1, 512, 4096}, options).to(at::kBFloat16);
    // The text side is computed once per job (as the pipeline does), for dense and sparse alike.
    const wan::Transformer::TextContext cond_text = model->EncodeText(text_cond);
    const wan::Transformer::TextContext uncond_text = model->EncodeText(text_uncond);
    const int64_t tokens = frames * 30 * 52;
    const double f_kv = KvFraction(config, tokens, 512);

    model->Forward(latents, timestep, cond_text);  // Warm-up.
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
    const double dense_ms = MedianMs(iterations, [&] {
      model->Forward(latents, timestep, cond_text);
      model->Forward(latents, timestep, uncond_text);
    });
    const double dense_peak = PeakAllocatedGiB();

    // Attention alone, as the sparse block calls it: [1, 12, q, 128] against [1, 12, N, 128].
    const at::Tensor k = at::randn({1, 12, tokens, 128}, options).to(at::kBFloat16);
    auto attention_ms = [&](int64_t queries) {
      const at::Tensor q = at::randn({1, 12, queries, 128}, options).to(at::kBFloat16);
      return MedianMs(iterations, [&] {
        at::_scaled_dot_product_cudnn_attention(q, k, k, c10::nullopt, /*compute_log_sumexp=*/true);
      });
    };
    const double attention_dense_ms = attention_ms(tokens);

    // Median time of a CFG pair of sparse forwards at uniform θ: step 0 dense (fills the
    // caches), step 1 warm-up, then the timed steps. Also the caches' size.
    auto sparse_pair_ms = [&](double theta, double* cache_gib) {
      std::vector<double> levels(iterations + 2, theta);
      levels[0] = 1.0;
      const BudgetSchedule schedule = OrDie(BudgetSchedule::FromThetas(levels));
      SparseState cond = OrDie(sparse->NewState(schedule));
      SparseState uncond = OrDie(sparse->NewState(schedule));
      for (int warm = 0; warm < 2; ++warm) {
        OrDie(sparse->Forward(latents, timestep, cond_text, cond));
        OrDie(sparse->Forward(latents, timestep, uncond_text, uncond));
      }
      c10::cuda::CUDACachingAllocator::resetPeakStats(0);
      const double ms = MedianMs(iterations, [&] {
        OrDie(sparse->Forward(latents, timestep, cond_text, cond));
        OrDie(sparse->Forward(latents, timestep, uncond_text, uncond));
      });
      *cache_gib = (cond.CacheBytes() + uncond.CacheBytes()) / (1024.0 * 1024 * 1024);
      return ms;
    };

    for (const double theta : thetas) {
      double cache_gib = 0;
      const double ms = sparse_pair_ms(theta, &cache_gib);
      const double peak = PeakAllocatedGiB();
      const int64_t selected = OrDie(BudgetSchedule::Uniform(1, theta)).TokensToCompute(0, tokens);
      const double attention_sparse_ms = attention_ms(selected);
      const double ideal = 1 / (theta + (1 - theta) * f_kv);
      table.push_back(
          absl::StrFormat("%-6lld %-5.2f %10.1f %10.1f %8.2fx %8.2fx %9.2f %9.2f %9.2f %9.3f %9.3f",
                          tokens, theta, dense_ms, ms, dense_ms / ms, ideal, dense_peak, peak,
                          cache_gib, attention_sparse_ms, theta * attention_dense_ms));
      json.push_back(absl::StrCat("{\"tokens\": ", tokens, ", \"theta\": ", theta,
                                  ", \"dense_pair_ms\": ", dense_ms, ", \"sparse_pair_ms\": ", ms,
                                  ", \"speedup\": ", dense_ms / ms, ", \"ideal\": ", ideal,
                                  ", \"f_kv\": ", f_kv, ", \"dense_peak_gib\": ", dense_peak,
                                  ", \"sparse_peak_gib\": ", peak, ", \"cache_gib\": ", cache_gib,
                                  ", \"attention_sparse_ms\": ", attention_sparse_ms,
                                  ", \"attention_dense_ms\": ", attention_dense_ms, "}"));
    }

    // The step cost model from measured CFG-pair times at every budget level.
    if (const std::string dir = absl::GetFlag(FLAGS_cost_model_dir); !dir.empty()) {
      std::vector<double> seconds(kDenseLevel + 1);
      for (int level = 0; level < kDenseLevel; ++level) {
        double cache_gib = 0;
        seconds[level] = sparse_pair_ms(static_cast<double>(level) / kDenseLevel, &cache_gib) / 1e3;
      }
      seconds[kDenseLevel] = dense_ms / 1e3;
      const StepCostModel model = OrDie(StepCostModel::Create(seconds));
      std::ofstream(absl::StrCat(dir, "/cost_model_", tokens, ".json")) << model.ToJson() << "\n";
      for (const double budget : {0.4, 0.5, 0.7}) {
        const BudgetSchedule schedule = OrDie(BudgetSchedule::WithMeanBudget(50, budget, 1, 1));
        std::printf("cost model, %lld tokens: 50 steps at mean budget %.1f (dense ends) -> %.2fx\n",
                    static_cast<long long>(tokens), budget, model.PredictedSpeedup(schedule));
      }
    }
  }
  std::printf("%-6s %-5s %10s %10s %9s %9s %9s %9s %9s %9s %9s\n%s\n", "tokens", "theta",
              "dense_ms", "sparse_ms", "speedup", "ideal", "dense_GiB", "peak_GiB", "cache_GiB",
              "attn_ms", "θ·attn_ms", absl::StrJoin(table, "\n").c_str());
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << "{\"model\": \"wan2.1-t2v-1.3b (random weights, bf16)\", "
                        << "\"resolution\": \"480x832\", \"cfg_pair\": true, \"results\": ["
                        << absl::StrJoin(json, ", ") << "]}\n";
  }
  return 0;
}

}  // namespace
}  // namespace videogen::engine::astraea

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return videogen::engine::astraea::Main();
}
