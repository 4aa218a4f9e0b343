// One text-to-video generation at the real Wan2.1-1.3B configuration on a GPU, with random
// weights (bf16, diffusers' fp32 keep-lists): umT5-XXL text encoding of the prompt and the
// negative prompt (512 tokens), then 50 UniPC steps with classifier-free guidance (two
// transformer passes per step) at 480x832, then the float32 VAE decode to uint8 frames, for 2 s
// (33 frames) and 5 s (81 frames) of video, dense and at each ASTRAEA mean --budgets (speedup of
// the denoising against the dense run). A second table decodes the same latents with each
// --vae_chunks size (latent frames per chunk; 1 = diffusers' frame-by-frame decode).
//
//   pipeline_benchmark [--steps=50] [--frames=33,81] [--budgets=1,0.4,0.5,0.7]
//                      [--vae_chunks=1,2,4,0] [--json=FILE]
//
// The pipeline is testing::RandomWan21Pipeline1p3B (engine/wan/testing/random_pipeline.h).
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
#include "c10/cuda/CUDACachingAllocator.h"
#include "engine/astraea/schedule.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/testing/random_pipeline.h"
#include "tests/testing/gpu_benchmark.h"
#include "torch/cuda.h"

ABSL_FLAG(int, steps, 50, "Denoising steps.");
ABSL_FLAG(std::string, frames, "33,81", "Video lengths in frames, comma-separated (4k+1).");
ABSL_FLAG(std::string, budgets, "1",
          "Mean ASTRAEA budgets to run, comma-separated; 1 = dense, others get a schedule with "
          "dense first and last steps (BudgetSchedule::WithMeanBudget).");
ABSL_FLAG(std::string, vae_chunks, "",
          "VAE chunk sizes (latent frames) to compare, comma-separated; 0 = all at once.");
ABSL_FLAG(std::string, json, "", "If set, results are also written here as JSON.");

namespace videogen::engine::wan {
namespace {

using ::videogen::testing::NowMs;
using ::videogen::testing::OrDie;
using ::videogen::testing::PeakAllocatedGiB;

int Main() {
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "pipeline_benchmark: no CUDA device\n");
    return 1;
  }
  const at::Device cuda(at::kCUDA);
  const auto pipeline = OrDie(testing::RandomWan21Pipeline1p3B(cuda));
  std::vector<int64_t> chunks;
  for (absl::string_view text :
       absl::StrSplit(absl::GetFlag(FLAGS_vae_chunks), ',', absl::SkipEmpty())) {
    if (!absl::SimpleAtoi(text, &chunks.emplace_back())) return 2;
  }
  std::vector<double> budgets;
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_budgets), ',')) {
    if (!absl::SimpleAtod(text, &budgets.emplace_back())) return 2;
  }

  std::printf("%-7s %-7s %-6s %-7s %10s %10s %12s %10s %10s %9s %10s\n", "frames", "tokens",
              "steps", "budget", "text_ms", "denoise_s", "per_step_ms", "decode_s", "total_s",
              "speedup", "peak_GiB");
  std::vector<std::string> json, vae_json;
  std::vector<std::string> vae_table;
  for (absl::string_view text : absl::StrSplit(absl::GetFlag(FLAGS_frames), ',')) {
    GenerateRequest request;
    request.prompt = "A red fox runs through fresh snow at dawn, cinematic, golden light.";
    request.negative_prompt = "blurry, low quality, distorted";
    request.height = 480;
    request.width = 832;
    if (!absl::SimpleAtoi(text, &request.frames)) return 2;
    request.steps = absl::GetFlag(FLAGS_steps);
    request.guidance_scale = 5.0;
    if (const absl::Status status = pipeline->Validate(request); !status.ok()) {
      std::fprintf(stderr, "pipeline_benchmark: %s\n", status.ToString().c_str());
      return 2;
    }
    // Warm-up: one encode and one short run (kernel selection, allocator).
    GenerateRequest warm = request;
    warm.steps = 2;
    OrDie(pipeline->DecodeFrames(OrDie(pipeline->GenerateLatents(warm, nullptr, nullptr))));
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);

    torch::cuda::synchronize();
    double start = NowMs();
    OrDie(pipeline->EncodePrompt(request.prompt, request.max_sequence_length));
    OrDie(pipeline->EncodePrompt(request.negative_prompt, request.max_sequence_length));
    torch::cuda::synchronize();
    const double text_ms = NowMs() - start;

    at::Tensor latents;
    double dense_denoise_ms = 0;
    for (const double budget : budgets) {
      request.schedule.reset();
      if (budget < 1) {
        request.schedule =
            OrDie(astraea::BudgetSchedule::WithMeanBudget(request.steps, budget, 1, 1));
      }
      torch::cuda::synchronize();
      c10::cuda::CUDACachingAllocator::resetPeakStats(0);
      std::vector<double> step_ends;
      start = NowMs();
      latents = OrDie(pipeline->GenerateLatents(
          request, [&](const StepEvent&) { step_ends.push_back(NowMs()); }, nullptr));
      torch::cuda::synchronize();
      const double latents_ms = NowMs() - start;
      OrDie(pipeline->DecodeFrames(latents));  // Default chunking; ends with the copy to the CPU.
      const double total_ms = NowMs() - start;
      const double decode_ms = total_ms - latents_ms;
      // Steps after the first (which includes the text encoding and noise).
      const double per_step = (step_ends.back() - step_ends.front()) / (step_ends.size() - 1);
      const double denoise_ms = latents_ms - (step_ends.front() - start) + per_step;
      if (budget >= 1) dense_denoise_ms = denoise_ms;
      const double speedup = dense_denoise_ms > 0 ? dense_denoise_ms / denoise_ms : 0;
      const double peak = PeakAllocatedGiB();
      const int64_t tokens = ((request.frames - 1) / 4 + 1) * 30 * 52;
      std::printf("%-7lld %-7lld %-6d %-7.2f %10.1f %10.2f %12.1f %10.2f %10.2f %8.2fx %10.2f\n",
                  static_cast<long long>(request.frames), static_cast<long long>(tokens),
                  request.steps, budget, text_ms, denoise_ms / 1e3, per_step, decode_ms / 1e3,
                  total_ms / 1e3, speedup, peak);
      json.push_back(absl::StrCat(
          "{\"frames\": ", request.frames, ", \"tokens\": ", tokens, ", \"steps\": ", request.steps,
          ", \"budget\": ", budget, ", \"schedule\": \"",
          request.schedule ? request.schedule->ToString() : "dense", "\", \"text_ms\": ", text_ms,
          ", \"denoise_s\": ", denoise_ms / 1e3, ", \"per_step_ms\": ", per_step,
          ", \"decode_s\": ", decode_ms / 1e3, ", \"total_s\": ", total_ms / 1e3,
          ", \"denoise_speedup\": ", speedup, ", \"peak_gib\": ", peak, "}"));
    }

    // The decode alone per chunk size: time and the memory it adds over what is resident.
    for (const int64_t chunk : chunks) {
      torch::cuda::synchronize();
      c10::cuda::CUDACachingAllocator::resetPeakStats(0);
      const double resident = PeakAllocatedGiB();
      start = NowMs();
      OrDie(pipeline->DecodeFrames(latents, {chunk}));
      const double ms = NowMs() - start;
      const double added = PeakAllocatedGiB() - resident;
      vae_table.push_back(absl::StrFormat("%-7lld %-7lld %10.2f %12.2f",
                                          static_cast<long long>(request.frames),
                                          static_cast<long long>(chunk), ms / 1e3, added));
      vae_json.push_back(absl::StrCat("{\"frames\": ", request.frames, ", \"chunk\": ", chunk,
                                      ", \"decode_s\": ", ms / 1e3, ", \"added_gib\": ", added,
                                      "}"));
    }
  }
  if (!vae_table.empty()) {
    std::printf("\nVAE decode by chunk size (latent frames; 0 = all)\n%-7s %-7s %10s %12s\n%s\n",
                "frames", "chunk", "decode_s", "added_GiB", absl::StrJoin(vae_table, "\n").c_str());
  }
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << "{\"model\": \"wan2.1-t2v-1.3b + umt5-xxl (random weights, bf16)\", "
                        << "\"resolution\": \"480x832\", \"guidance\": 5.0, "
                        << "\"vae\": \"wan2.1 decoder, float32, default chunk\", "
                        << "\"results\": [" << absl::StrJoin(json, ", ") << "], "
                        << "\"vae_chunks\": [" << absl::StrJoin(vae_json, ", ") << "]}\n";
  }
  return 0;
}

}  // namespace
}  // namespace videogen::engine::wan

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return videogen::engine::wan::Main();
}
