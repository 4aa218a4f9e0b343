// Multi-GPU scaling of the denoising step: the Wan2.1-1.3B configuration with random weights
// (bf16, diffusers' fp32 keep-list), 480x832, guided (CFG pair), on 1 to 8 GPUs of this host with
// every parallel layout, dense and at uniform ASTRAEA budgets. The same command measures any GPU
// count:
//
//   parallel_benchmark --gpus=N [--layouts=auto|all|cfg2xulysses4,...] [--latent_frames=9,21]
//                      [--budgets=1,0.4,0.5,0.7] [--iterations=5] [--json=FILE]
//
// This process starts one rank process per GPU for each layout (engine/parallel/launcher.h) and
// collects their results; with N > 1 it also runs the 1-GPU dense baseline first. Per case: the
// median time of a guided step (the slowest rank's), peak device memory (the largest rank's),
// the speedup over the 1-GPU dense step, and for dense steps the scaling efficiency
// T1 / (N · TN). Budgets below 1 run after a dense step that fills the caches and one warm-up
// step.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "c10/core/InferenceMode.h"
#include "c10/cuda/CUDACachingAllocator.h"
#include "c10/cuda/CUDAFunctions.h"
#include "cuda_runtime_api.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/parallel/launcher.h"
#include "engine/parallel/layout.h"
#include "engine/parallel/parallel_context.h"
#include "engine/parallel/parallel_denoiser.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "nlohmann/json.hpp"
#include "tests/testing/gpu_benchmark.h"
#include "torch/cuda.h"

ABSL_FLAG(int, gpus, 1, "GPUs (ranks) to use.");
ABSL_FLAG(std::string, layouts, "all",
          "\"auto\" (the layout ChooseLayout picks), \"all\" (every valid layout) or a "
          "comma-separated list such as cfg2xulysses4,ulysses4xring2.");
ABSL_FLAG(std::string, latent_frames, "9,21", "Latent frames (9 = 33 frames, 21 = 81).");
ABSL_FLAG(std::string, budgets, "1,0.4,0.5,0.7", "Uniform budgets; 1 is the dense step.");
ABSL_FLAG(int, iterations, 5, "Timed steps per case.");
ABSL_FLAG(std::string, json, "", "If set, results are also written here as JSON.");
ABSL_FLAG(std::string, rank_layout, "", "Internal: the layout a rank process runs.");
ABSL_FLAG(std::string, rank_output, "", "Internal: where rank 0 writes its results.");

namespace videogen::engine::parallel {
namespace {

using ::videogen::testing::MedianMs;
using ::videogen::testing::OrDie;
using ::videogen::testing::PeakAllocatedGiB;
using Json = nlohmann::json;

std::vector<double> Numbers(const std::string& list) {
  std::vector<double> numbers;
  for (absl::string_view text : absl::StrSplit(list, ',')) {
    if (!absl::SimpleAtod(text, &numbers.emplace_back())) {
      std::fprintf(stderr, "parallel_benchmark: \"%s\" is not a number\n",
                   std::string(text).c_str());
      std::exit(2);
    }
  }
  return numbers;
}

// One rank: every (frames, budget) case of the layout; rank 0 writes the results.
int RunRank(const RankEnvironment& env) {
  const ParallelLayout layout = OrDie(ParseParallelLayout(absl::GetFlag(FLAGS_rank_layout)));
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.rank));
  const at::Device device(at::kCUDA, static_cast<c10::DeviceIndex>(env.rank));
  c10::InferenceMode inference;
  ParallelOptions options;
  options.rank = env.rank;
  options.layout = layout;
  options.store_port = env.store_port;
  options.device = device;
  const auto context = OrDie(ParallelContext::Create(options));

  const wan::TransformerConfig config;  // 1.3B.
  LoadOptions policy;
  policy.dtype = at::kBFloat16;
  policy.keep_in_fp32_modules = wan::Transformer::KeepInFp32Modules();
  at::manual_seed(0);  // The same weights on every rank.
  const auto model = OrDie(wan::Transformer::Create(
      config, engine::testing::RandomWeights(wan::Transformer::Parameters(config), policy, device),
      device));
  const auto sparse = OrDie(astraea::SparseTransformer::Create(*model));
  const ParallelDenoiser denoiser(*model, *sparse, *context);
  const int iterations = absl::GetFlag(FLAGS_iterations);

  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto text = [&] {
    return model->EncodeText(at::randn({1, 512, 4096}, generator).to(device, at::kBFloat16));
  };
  const wan::Transformer::TextContext prompt_text = text(), negative_text = text();
  Json results = Json::array();
  for (const double frames : Numbers(absl::GetFlag(FLAGS_latent_frames))) {
    const at::Tensor latents = at::randn({1, 16, static_cast<int64_t>(frames), 60, 104}, generator)
                                   .to(device, at::kBFloat16);
    const at::Tensor timestep =
        at::full({1}, 500, at::TensorOptions().device(device).dtype(at::kLong));
    for (const double budget : Numbers(absl::GetFlag(FLAGS_budgets))) {
      const int level = static_cast<int>(budget * 10 + 0.5);
      std::optional<astraea::SparseState> cond, uncond;
      if (level < astraea::kDenseLevel) {
        std::vector<int> levels(2 + iterations, level);
        levels[0] = astraea::kDenseLevel;
        const astraea::BudgetSchedule schedule = OrDie(astraea::BudgetSchedule::FromLevels(levels));
        if (denoiser.RunsBranch(true)) cond.emplace(OrDie(sparse->NewState(schedule)));
        if (denoiser.RunsBranch(false)) uncond.emplace(OrDie(sparse->NewState(schedule)));
      }
      const ParallelDenoiser::Branch prompt{denoiser.RunsBranch(true) ? &prompt_text : nullptr,
                                            cond ? &*cond : nullptr};
      const ParallelDenoiser::Branch negative{denoiser.RunsBranch(false) ? &negative_text : nullptr,
                                              uncond ? &*uncond : nullptr};
      auto step = [&] {
        OrDie(denoiser.Predict(latents, timestep, prompt, negative, /*guided=*/true, 5.0));
      };
      c10::cuda::CUDACachingAllocator::emptyCache();
      c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
      step();                      // Dense (fills the caches) or warm-up.
      if (cond || uncond) step();  // The sparse warm-up.
      at::Tensor measured =
          at::tensor({MedianMs(iterations, step), PeakAllocatedGiB(device.index())},
                     at::TensorOptions().dtype(at::kDouble))
              .to(device);
      context->AllReduce(ParallelContext::Group::kWorld, measured,
                         ParallelContext::Reduction::kMax);
      measured = measured.cpu();
      results.push_back({{"latent_frames", frames},
                         {"tokens", model->GridOf(latents).tokens()},
                         {"budget", level / 10.0},
                         {"step_ms", measured[0].item<double>()},
                         {"peak_gib", measured[1].item<double>()}});
    }
  }
  if (env.rank == 0) {
    std::ofstream(absl::GetFlag(FLAGS_rank_output)) << results.dump();
  }
  return 0;
}

// Launches `gpus` ranks running `layout` and returns rank 0's results.
Json Measure(int gpus, const ParallelLayout& layout) {
  char dir_template[] = "/tmp/parallel_benchmark_XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) std::exit(1);
  const std::string output = absl::StrCat(dir, "/results.json");
  LaunchOptions launch;
  launch.program = CurrentExecutable();
  launch.args = {absl::StrCat("--rank_layout=", layout.ToString()),
                 absl::StrCat("--rank_output=", output),
                 absl::StrCat("--latent_frames=", absl::GetFlag(FLAGS_latent_frames)),
                 absl::StrCat("--budgets=", absl::GetFlag(FLAGS_budgets)),
                 absl::StrCat("--iterations=", absl::GetFlag(FLAGS_iterations))};
  launch.world_size = gpus;
  const std::vector<RankExit> exits = OrDie(LaunchRanks(launch));
  for (size_t rank = 0; rank < exits.size(); ++rank) {
    if (!exits[rank].ok()) {
      std::fprintf(stderr, "parallel_benchmark: %s: rank %zu exited with %d (signal %d)\n",
                   layout.ToString().c_str(), rank, exits[rank].exit_code, exits[rank].signal);
      std::exit(1);
    }
  }
  std::ifstream file(output);
  std::stringstream text;
  text << file.rdbuf();
  return Json::parse(text.str());
}

int Main() {
  const int gpus = absl::GetFlag(FLAGS_gpus);
  if (!torch::cuda::is_available() || torch::cuda::device_count() < gpus) {
    std::fprintf(stderr, "parallel_benchmark: %d GPUs requested, %d present\n", gpus,
                 static_cast<int>(torch::cuda::device_count()));
    return 1;
  }
  const int64_t heads = wan::TransformerConfig().num_heads;
  std::vector<ParallelLayout> layouts;
  const std::string which = absl::GetFlag(FLAGS_layouts);
  if (which == "auto") {
    layouts.push_back(OrDie(ChooseLayout(gpus, heads, /*guided=*/true)));
  } else if (which == "all") {
    layouts = CandidateLayouts(gpus, heads, /*guided=*/true);
  } else {
    for (absl::string_view text : absl::StrSplit(which, ',')) {
      const ParallelLayout layout = OrDie(ParseParallelLayout(text));
      if (const absl::Status valid = ValidateLayout(layout, heads, true);
          !valid.ok() || layout.world_size() != gpus) {
        std::fprintf(stderr, "parallel_benchmark: layout %s does not fit %d GPUs: %s\n",
                     layout.ToString().c_str(), gpus, valid.ToString().c_str());
        return 2;
      }
      layouts.push_back(layout);
    }
  }
  // The 1-GPU dense step per token count, the reference of every speedup.
  std::map<int64_t, double> single_dense;
  Json runs = Json::array();
  auto record = [&](int world, const ParallelLayout& layout, const Json& results) {
    for (const Json& row : results) {
      if (world == 1 && row["budget"] == 1.0) single_dense[row["tokens"]] = row["step_ms"];
    }
    for (Json row : results) {
      const double base = single_dense.count(row["tokens"]) ? single_dense[row["tokens"]] : 0;
      row["gpus"] = world;
      row["layout"] = layout.ToString();
      row["speedup_vs_1gpu_dense"] = base > 0 ? base / row["step_ms"].get<double>() : 0.0;
      if (row["budget"] == 1.0) {
        row["scaling_efficiency"] = base > 0 ? base / (world * row["step_ms"].get<double>()) : 0.0;
      }
      std::printf(
          "%-22s gpus %d  tokens %6lld  budget %.1f  step %8.1f ms  %5.2fx  peak %5.2f GiB\n",
          layout.ToString().c_str(), world, row["tokens"].get<long long>(),
          row["budget"].get<double>(), row["step_ms"].get<double>(),
          row["speedup_vs_1gpu_dense"].get<double>(), row["peak_gib"].get<double>());
      runs.push_back(row);
    }
  };
  if (gpus > 1) {
    const std::string budgets = absl::GetFlag(FLAGS_budgets);
    absl::SetFlag(&FLAGS_budgets, "1");
    record(1, ParallelLayout{}, Measure(1, ParallelLayout{}));
    absl::SetFlag(&FLAGS_budgets, budgets);
  }
  for (const ParallelLayout& layout : layouts) record(gpus, layout, Measure(gpus, layout));
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    cudaDeviceProp properties{};
    cudaGetDeviceProperties(&properties, 0);
    Json out = {{"benchmark", "engine.parallel.parallel_benchmark"},
                {"device", properties.name},
                {"gpus", gpus},
                {"model", "Wan2.1-1.3B configuration, random weights, bf16, 480x832, CFG pair"},
                {"iterations", absl::GetFlag(FLAGS_iterations)},
                {"runs", runs}};
    std::ofstream(path) << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace videogen::engine::parallel

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::StatusOr<videogen::engine::parallel::RankEnvironment> env =
      videogen::engine::parallel::RankEnvironmentFromEnv();
  if (env.ok()) return videogen::engine::parallel::RunRank(*env);
  return videogen::engine::parallel::Main();
}
