// The schedule search's cost on a GPU at the real Wan2.1-1.3B configuration with random weights
// (engine/wan/testing/random_pipeline.h): the same search (same seed, so the same candidates) run
// with and without prefix reuse, reporting wall time, steps computed and reused, evaluations per
// GPU-hour (wall time × devices) and the best fitness after each generation against elapsed time.
//
//   search_benchmark [--height=480 --width=832 --frames=33 --steps=20 --budget=0.5]
//                    [--population=6 --generations=2 --parents=3 --prompts=1] [--devices=1]
//                    [--json=FILE]
//
// Random weights make the fitness values themselves meaningless; the cost figures are what this
// measures.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ATen/ATen.h"
#include "absl/time/clock.h"
#include "engine/wan/testing/random_pipeline.h"
#include "search_worker/schedule_search.h"
#include "tests/testing/gpu_benchmark.h"
#include "torch/cuda.h"

ABSL_FLAG(int, height, 480, "Height.");
ABSL_FLAG(int, width, 832, "Width.");
ABSL_FLAG(int, frames, 33, "Frames (4k+1).");
ABSL_FLAG(int, steps, 20, "Denoising steps.");
ABSL_FLAG(double, budget, 0.5, "Budget searched for.");
ABSL_FLAG(int, population, 6, "Candidates per generation.");
ABSL_FLAG(int, generations, 2, "Generations after the initial population.");
ABSL_FLAG(int, parents, 3, "Parents kept.");
ABSL_FLAG(int, prompts, 1, "Calibration prompts (the first N default ones).");
ABSL_FLAG(int, devices, 1, "GPUs to evaluate on (a model copy on each).");
ABSL_FLAG(std::string, json, "", "If set, the results are also written here as JSON.");

namespace videogen::search_worker {
namespace {

using ::videogen::testing::OrDie;

int Main() {
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "search_benchmark: no CUDA device\n");
    return 1;
  }
  // One copy of the same random weights per device (the same seed draws the same values).
  std::vector<std::unique_ptr<engine::wan::Pipeline>> copies;
  for (int device = 0; device < absl::GetFlag(FLAGS_devices); ++device) {
    at::manual_seed(1234);
    copies.push_back(OrDie(engine::wan::testing::RandomWan21Pipeline1p3B(
        at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device)))));
  }
  const engine::wan::Pipeline* pipeline = copies[0].get();
  videogen::v1::SearchJobSpec spec;
  auto* key = spec.mutable_key();
  key->set_model_id("wan2.1-1.3b-random");
  key->set_height(absl::GetFlag(FLAGS_height));
  key->set_width(absl::GetFlag(FLAGS_width));
  key->set_frames(absl::GetFlag(FLAGS_frames));
  key->set_steps(absl::GetFlag(FLAGS_steps));
  spec.add_budgets(static_cast<float>(absl::GetFlag(FLAGS_budget)));
  auto* evolution = spec.mutable_evolution();
  evolution->set_population_size(absl::GetFlag(FLAGS_population));
  evolution->set_generations(absl::GetFlag(FLAGS_generations));
  evolution->set_parents(absl::GetFlag(FLAGS_parents));
  evolution->set_seed(1);
  for (int i = 0; i < absl::GetFlag(FLAGS_prompts); ++i) {
    spec.add_calibration_prompts(DefaultCalibrationPrompts()[i]);
  }
  spec = OrDie(NormalizeSearchSpec(spec, 1));

  std::string json = "{\"runs\": [";
  std::printf("%-8s %9s %8s %10s %10s %12s %14s\n", "reuse", "wall_s", "evals", "computed",
              "reused", "evals/GPU-h", "best_mse");
  for (const bool reuse : {false, true}) {
    const std::string db = absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp",
                                        "/search_benchmark_", reuse, "_", getpid(), ".db");
    auto registry = OrDie(server::ScheduleRegistry::Open(db));
    SearchOptions options;
    options.search_id = reuse ? "with-reuse" : "without-reuse";
    options.fitness.reuse_prefixes = reuse;
    for (size_t i = 1; i < copies.size(); ++i) options.fitness.replicas.push_back(copies[i].get());
    const absl::Time start = absl::Now();
    std::string curve;
    int64_t evaluations = 0;
    options.on_progress = [&](const videogen::v1::SearchProgress& progress) {
      evaluations = progress.evaluations_done();
      absl::StrAppendFormat(&curve, "%s[%d, %.3f, %.9g]", curve.empty() ? "" : ", ",
                            progress.generation(), absl::ToDoubleSeconds(absl::Now() - start),
                            progress.best_fitness_mse());
    };
    const SearchOutcome outcome = OrDie(RunScheduleSearch(*pipeline, *registry, spec, options));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const double per_hour =
        evaluations / (seconds / 3600.0 * static_cast<double>(copies.size()));
    std::printf("%-8s %9.1f %8lld %10lld %10lld %12.1f %14.6g\n", reuse ? "yes" : "no", seconds,
                static_cast<long long>(evaluations),
                static_cast<long long>(outcome.steps_computed),
                static_cast<long long>(outcome.steps_reused), per_hour,
                outcome.results[0].fitness_mse());
    absl::StrAppendFormat(
        &json,
        "%s{\"reuse\": %s, \"wall_seconds\": %.3f, \"evaluations\": %d, \"steps_computed\": %d, "
        "\"steps_reused\": %d, \"evaluations_per_gpu_hour\": %.1f, \"best_fitness_mse\": %.9g, "
        "\"fallback_fitness_mse\": %.9g, \"curve_generation_seconds_best\": [%s]}",
        reuse ? ", " : "", reuse ? "true" : "false", seconds, evaluations, outcome.steps_computed,
        outcome.steps_reused, per_hour, outcome.results[0].fitness_mse(),
        outcome.results[0].fallback_fitness_mse(), curve);
  }
  absl::StrAppendFormat(&json,
                        "], \"key\": {\"height\": %d, \"width\": %d, \"frames\": %d, "
                        "\"steps\": %d}, \"budget\": %g, \"population\": %d, "
                        "\"generations\": %d, \"prompts\": %d, \"devices\": %d}\n",
                        spec.key().height(), spec.key().width(), spec.key().frames(),
                        spec.key().steps(), absl::GetFlag(FLAGS_budget),
                        absl::GetFlag(FLAGS_population), absl::GetFlag(FLAGS_generations),
                        absl::GetFlag(FLAGS_prompts), absl::GetFlag(FLAGS_devices));
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << json;
  }
  return 0;
}

}  // namespace
}  // namespace videogen::search_worker

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return videogen::search_worker::Main();
}
