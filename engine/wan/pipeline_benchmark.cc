// One text-to-video generation at the real Wan2.1-1.3B configuration on a GPU, with random
// weights (bf16, diffusers' fp32 keep-lists): umT5-XXL text encoding of the prompt and the
// negative prompt (512 tokens), then 50 UniPC steps with classifier-free guidance (two
// transformer passes per step) at 480x832, for 2 s (33 frames) and 5 s (81 frames) of video.
// The VAE decode is not included yet.
//
//   pipeline_benchmark [--steps=50] [--frames=33,81] [--json=FILE]
//
// The tokenizer and scheduler config are the golden fixtures' (the Wan2.1 UniPC config); the
// tiny tokenizer's ids are valid for the real vocabulary, and text cost does not depend on them.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "c10/cuda/CUDACachingAllocator.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/text/tokenizer.h"
#include "engine/text/umt5_config.h"
#include "engine/text/umt5_encoder.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "tests/testing/runfiles.h"
#include "torch/cuda.h"

ABSL_FLAG(int, steps, 50, "Denoising steps.");
ABSL_FLAG(std::string, frames, "33,81", "Video lengths in frames, comma-separated (4k+1).");
ABSL_FLAG(std::string, json, "", "If set, results are also written here as JSON.");

namespace videogen::engine::wan {
namespace {

// text_encoder/config.json of Wan2.1-T2V-1.3B-Diffusers (umT5-XXL encoder).
constexpr char kUmt5Xxl[] = R"({
  "model_type": "umt5", "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24,
  "num_heads": 64, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
  "vocab_size": 256384, "feed_forward_proj": "gated-gelu", "layer_norm_epsilon": 1e-6,
  "is_gated_act": true, "dense_act_fn": "gelu_new", "pad_token_id": 0, "eos_token_id": 1,
  "tie_word_embeddings": false})";

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::fprintf(stderr, "pipeline_benchmark: %s\n", value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

int Main() {
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "pipeline_benchmark: no CUDA device\n");
    return 1;
  }
  const at::Device cuda(at::kCUDA);
  Pipeline::Components components;
  components.tokenizer = OrDie(
      text::Tokenizer::Load(videogen::testing::RunfilePath("tests/golden/wan_tiny/tokenizer")));
  const text::Umt5Config umt5 = OrDie(text::ParseUmt5Config(kUmt5Xxl, "umt5-xxl"));
  LoadOptions text_policy;
  text_policy.dtype = at::kBFloat16;
  components.text_encoder = OrDie(text::Umt5Encoder::Create(
      umt5, testing::RandomWeights(text::Umt5Encoder::Parameters(umt5), text_policy, cuda), cuda));
  const TransformerConfig config;  // 1.3B.
  LoadOptions policy;
  policy.dtype = at::kBFloat16;
  policy.keep_in_fp32_modules = Transformer::KeepInFp32Modules();
  components.transformer = OrDie(Transformer::Create(
      config, testing::RandomWeights(Transformer::Parameters(config), policy, cuda), cuda));
  components.scheduler_config = OrDie(scheduler::LoadFlowSchedulerConfig(
      videogen::testing::RunfilePath("tests/golden/wan_tiny/scheduler/scheduler_config.json")));
  const auto pipeline = OrDie(Pipeline::Create(std::move(components)));

  std::printf("%-7s %-7s %-6s %12s %12s %14s %12s %10s\n", "frames", "tokens", "steps", "text_ms",
              "denoise_s", "per_step_ms", "total_s", "peak_GiB");
  std::vector<std::string> json;
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
    OrDie(pipeline->GenerateLatents(warm, nullptr, nullptr));
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);

    torch::cuda::synchronize();
    double start = NowMs();
    OrDie(pipeline->EncodePrompt(request.prompt, request.max_sequence_length));
    OrDie(pipeline->EncodePrompt(request.negative_prompt, request.max_sequence_length));
    torch::cuda::synchronize();
    const double text_ms = NowMs() - start;

    std::vector<double> step_ends;
    start = NowMs();
    OrDie(pipeline->GenerateLatents(
        request, [&](const StepEvent&) { step_ends.push_back(NowMs()); }, nullptr));
    torch::cuda::synchronize();
    const double total_ms = NowMs() - start;
    // Steps after the first (which includes the text encoding and noise).
    const double per_step = (step_ends.back() - step_ends.front()) / (step_ends.size() - 1);
    const double denoise_ms = total_ms - (step_ends.front() - start) + per_step;
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    const double peak =
        stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
            .peak /
        (1024.0 * 1024 * 1024);
    const int64_t tokens = ((request.frames - 1) / 4 + 1) * 30 * 52;
    std::printf("%-7lld %-7lld %-6d %12.1f %12.2f %14.1f %12.2f %10.2f\n",
                static_cast<long long>(request.frames), static_cast<long long>(tokens),
                request.steps, text_ms, denoise_ms / 1e3, per_step, total_ms / 1e3, peak);
    json.push_back(absl::StrCat("{\"frames\": ", request.frames, ", \"tokens\": ", tokens,
                                ", \"steps\": ", request.steps, ", \"text_ms\": ", text_ms,
                                ", \"denoise_s\": ", denoise_ms / 1e3,
                                ", \"per_step_ms\": ", per_step, ", \"total_s\": ", total_ms / 1e3,
                                ", \"peak_gib\": ", peak, "}"));
  }
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path)
        << "{\"model\": \"wan2.1-t2v-1.3b + umt5-xxl (random weights, bf16)\", "
        << "\"resolution\": \"480x832\", \"guidance\": 5.0, \"vae\": \"not included\", "
        << "\"results\": [" << absl::StrJoin(json, ", ") << "]}\n";
  }
  return 0;
}

}  // namespace
}  // namespace videogen::engine::wan

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return videogen::engine::wan::Main();
}
