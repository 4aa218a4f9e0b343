// Generates one prompt set with the dense model, ASTRAEA and the other accelerations on one model
// and device, and records per method the frames, the time, the peak device memory and the
// transformer FLOPs (the seed's appendix A.3, engine/accel/work.h), for
// bench/compare_accelerations.py to score and tabulate (issue 10).
//
//   acceleration_compare --out=DIR --prompts=FILE (--model_dir=DIR | --random_wan_1p3b)
//       [--device=cuda] [--dtype=bfloat16] [--height=320] [--width=448] [--frames=17]
//       [--steps=30] [--guidance_scale=5] [--methods="dense;astraea:0.5;pab;toca"]
//       [--save_frames=true]
//
// --prompts: one JSON object per line, {"prompt": str, "seed": int, "scene_seed": int or null}
// (scene_seed: the tools/demo_data scene the prompt describes, for prompt adherence).
// --methods, separated by ';':
//   dense                        the dense model (always run first: the reference)
//   astraea:B                    ASTRAEA at θ = B at every step (a uniform budget)
//   astraea:θ1,θ2,...            ASTRAEA with this schedule (e.g. one the search found)
//   fixed_token:..., timestep_level:...   the seed's ablations (SparseMode), same forms
//   NAME or NAME(key=value,...)  a baseline policy (engine/accel/policies.h)
// Output: DIR/results.json and, with --save_frames, DIR/<method index>/<prompt index>.raw
// (uint8 [frames, height, width, 3]); without the frames (--save_frames=false, e.g. on a
// random-weight model whose videos mean nothing) the comparison reports speed only.
//
// Timing: each generation is timed end to end (text encoding, denoising, VAE decode; the frames
// come back to the host, so the device is idle when the clock stops), and its denoising alone
// from the start of the denoising stage to the start of the decode (the device synchronised
// there). One untimed generation warms the device up first. Peak memory is the CUDA caching
// allocator's over each method (0 on the CPU).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_inputs.h"
#include "engine/accel/policies.h"
#include "engine/accel/work.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/common/runtime_info.h"
#include "engine/common/status_macros.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/testing/random_pipeline.h"
#include "nlohmann/json.hpp"
#include "torch/cuda.h"

ABSL_FLAG(std::string, out, "", "Output directory (created).");
ABSL_FLAG(std::string, prompts, "", "Prompt set: JSON lines {prompt, seed, scene_seed}.");
ABSL_FLAG(std::string, model_dir, "", "A diffusers-format model folder.");
ABSL_FLAG(bool, random_wan_1p3b, false,
          "Use Wan2.1-1.3B's configuration with random weights instead of --model_dir (speed "
          "only: its videos mean nothing).");
ABSL_FLAG(std::string, device, "cuda", "cpu or cuda.");
ABSL_FLAG(std::string, dtype, "bfloat16", "float32 or bfloat16 (the transformer's).");
ABSL_FLAG(int, height, 320, "Pixels.");
ABSL_FLAG(int, width, 448, "Pixels.");
ABSL_FLAG(int, frames, 17, "4k + 1.");
ABSL_FLAG(int, steps, 30, "Denoising steps.");
ABSL_FLAG(double, guidance_scale, 5.0, "Classifier-free guidance scale.");
ABSL_FLAG(std::string, methods, "dense;astraea:0.5;pab;toca", "Methods, ';'-separated.");
ABSL_FLAG(bool, save_frames, true, "Write every video's frames.");

namespace videogen::bench {
namespace {

using engine::astraea::BudgetSchedule;
using engine::astraea::SparseMode;
using engine::wan::GenerateRequest;
using engine::wan::Pipeline;
using Json = nlohmann::json;

// One method of --methods.
struct Method {
  std::string name;    // As given.
  std::string family;  // dense, astraea, astraea-schedule, fixed-token, timestep-level, or the
                       // policy's name.
  SparseMode mode = SparseMode::kDense;
  std::optional<BudgetSchedule> schedule;
  std::shared_ptr<const engine::accel::Policy> policy;
};

absl::StatusOr<Method> ParseMethod(const std::string& text, int steps) {
  Method method;
  method.name = text;
  if (text == "dense") {
    method.family = "dense";
    return method;
  }
  const struct {
    const char* prefix;
    SparseMode mode;
    const char* family;
  } sparse[] = {{"astraea:", SparseMode::kAstraea, "astraea"},
                {"fixed_token:", SparseMode::kFixedToken, "fixed-token"},
                {"timestep_level:", SparseMode::kTimestepLevel, "timestep-level"}};
  for (const auto& s : sparse) {
    if (!absl::StartsWith(text, s.prefix)) continue;
    const std::string value = text.substr(std::string(s.prefix).size());
    method.mode = s.mode;
    method.family = s.family;
    double theta;
    if (absl::SimpleAtod(value, &theta)) {
      VG_ASSIGN_OR_RETURN(method.schedule, BudgetSchedule::Uniform(steps, theta));
    } else {
      VG_ASSIGN_OR_RETURN(method.schedule, BudgetSchedule::Parse(value));
      VG_RETURN_IF_ERROR(method.schedule->Validate(steps));
      if (method.mode == SparseMode::kAstraea) method.family = "astraea-schedule";
    }
    return method;
  }
  VG_ASSIGN_OR_RETURN(method.policy, engine::accel::ParsePolicy(text));
  method.family = text.substr(0, text.find('('));
  return method;
}

// Transformer FLOPs (work.h) of one branch of an ASTRAEA run: a block's first step is dense,
// later steps compute k = θ·N query rows over all N keys.
double AstraeaFlops(const engine::wan::TransformerConfig& config, int64_t n, int64_t text_tokens,
                    const BudgetSchedule& schedule) {
  double flops = 0;
  for (int step = 0; step < schedule.steps(); ++step) {
    const int64_t k = step == 0 ? n : schedule.TokensToCompute(step, n);
    flops += config.num_layers *
             engine::accel::BlockFlops(config, text_tokens, engine::accel::SparseBlockWork(n, k));
  }
  return flops;
}

class Harness {
 public:
  // `command`: the command line, recorded with the results.
  explicit Harness(std::string command) : command_(std::move(command)) {}

  absl::Status Run() {
    const std::string out = absl::GetFlag(FLAGS_out);
    if (out.empty()) return absl::InvalidArgumentError("--out is required");
    VG_ASSIGN_OR_RETURN(prompts_, ReadPrompts(absl::GetFlag(FLAGS_prompts)));
    request_.height = absl::GetFlag(FLAGS_height);
    request_.width = absl::GetFlag(FLAGS_width);
    request_.frames = absl::GetFlag(FLAGS_frames);
    request_.steps = absl::GetFlag(FLAGS_steps);
    request_.guidance_scale = absl::GetFlag(FLAGS_guidance_scale);
    std::vector<Method> methods;
    for (absl::string_view text :
         absl::StrSplit(absl::GetFlag(FLAGS_methods), ';', absl::SkipEmpty())) {
      VG_ASSIGN_OR_RETURN(methods.emplace_back(), ParseMethod(std::string(text), request_.steps));
    }
    if (methods.empty() || methods.front().family != "dense") {
      return absl::InvalidArgumentError("--methods must start with dense (the reference)");
    }
    const std::string device_name = absl::GetFlag(FLAGS_device);
    VG_ASSIGN_OR_RETURN(device_, ParseDevice(device_name));
    const std::string dtype = absl::GetFlag(FLAGS_dtype);
    VG_ASSIGN_OR_RETURN(dtype_, ParseDtype(dtype));
    std::filesystem::create_directories(out);

    Json results =
        ResultsHeader(command_, device_name,
                      absl::GetFlag(FLAGS_random_wan_1p3b) ? "random Wan2.1-1.3B"
                                                           : absl::GetFlag(FLAGS_model_dir),
                      prompts_);
    results["frames_saved"] = absl::GetFlag(FLAGS_save_frames);
    results["settings"] = {{"height", request_.height},
                           {"width", request_.width},
                           {"frames", request_.frames},
                           {"steps", request_.steps},
                           {"guidance_scale", request_.guidance_scale},
                           {"dtype", dtype}};
    bool warm = false;
    for (size_t m = 0; m < methods.size(); ++m) {
      VG_ASSIGN_OR_RETURN(const Pipeline* pipeline, PipelineFor(methods[m].mode));
      if (!warm) {
        VG_RETURN_IF_ERROR(Generate(*pipeline, methods[m], prompts_[0]).status());
        warm = true;
      }
      const std::string dir = absl::StrCat(m);
      std::filesystem::create_directories(absl::StrCat(out, "/", dir));
      VG_ASSIGN_OR_RETURN(Json record,
                          RunMethod(*pipeline, methods[m], absl::StrCat(out, "/", dir)));
      record["dir"] = dir;
      results["methods"].push_back(std::move(record));
      std::printf("%s\n", results["methods"].back().dump().c_str());
      std::fflush(stdout);
    }
    std::ofstream(absl::StrCat(out, "/results.json")) << results.dump(2) << "\n";
    return absl::OkStatus();
  }

 private:
  struct Generation {
    at::Tensor frames;
    double seconds = 0, denoise_seconds = 0;
    int64_t tokens = 0, dense_tokens = 0;
  };

  // The pipeline for `mode`'s requests. One pipeline is on the device at a time, so that every
  // method's peak memory counts one model: methods of one mode are best listed together (a mode's
  // pipeline loads again after another mode's).
  absl::StatusOr<const Pipeline*> PipelineFor(SparseMode mode) {
    // kDense and kAstraea share the default pipeline (a request without a schedule is dense).
    const SparseMode key = mode == SparseMode::kDense ? SparseMode::kAstraea : mode;
    if (pipeline_ == nullptr || pipeline_mode_ != key) {
      pipeline_.reset();
      engine::astraea::SparseOptions sparse;
      sparse.mode = key;
      if (absl::GetFlag(FLAGS_random_wan_1p3b)) {
        VG_ASSIGN_OR_RETURN(pipeline_,
                            engine::wan::testing::RandomWan21Pipeline1p3B(device_, sparse));
      } else {
        VG_ASSIGN_OR_RETURN(pipeline_, Pipeline::Load(absl::GetFlag(FLAGS_model_dir), dtype_,
                                                      device_, /*parallel=*/nullptr, sparse));
      }
      pipeline_mode_ = key;
    }
    return pipeline_.get();
  }

  absl::StatusOr<Generation> Generate(const Pipeline& pipeline, const Method& method,
                                      const Prompt& prompt) {
    GenerateRequest request = request_;
    request.prompt = prompt.prompt;
    request.seed = prompt.seed;
    request.schedule = method.schedule;
    request.acceleration = method.policy;
    Generation g;
    absl::Time denoise_start;
    auto synchronize = [&] {
      if (device_.is_cuda()) torch::cuda::synchronize();
    };
    const auto on_step = [&](const engine::wan::StepEvent& e) {
      g.tokens += e.tokens_computed;
      g.dense_tokens += e.dense_tokens;
    };
    const auto on_stage = [&](engine::wan::Stage stage) {
      synchronize();
      if (stage == engine::wan::Stage::kDenoising) denoise_start = absl::Now();
      if (stage == engine::wan::Stage::kVaeDecoding) {
        g.denoise_seconds = absl::ToDoubleSeconds(absl::Now() - denoise_start);
      }
    };
    synchronize();
    const absl::Time start = absl::Now();
    VG_ASSIGN_OR_RETURN(g.frames, pipeline.Generate(request, on_step, nullptr, on_stage));
    g.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    return g;
  }

  absl::StatusOr<Json> RunMethod(const Pipeline& pipeline, const Method& method,
                                 const std::string& dir) {
    Json record = {{"name", method.name}, {"family", method.family}};
    record["spec"] = method.policy != nullptr ? method.policy->Describe()
                     : method.schedule        ? method.schedule->ToString()
                                              : "dense";
    if (device_.is_cuda()) engine::ResetPeakDeviceMemory(device_.index());
    double flops = 0, dense_flops = 0;
    const engine::wan::TransformerConfig& config = pipeline.transformer().config();
    const int branches = request_.guidance_scale > 1 ? 2 : 1;
    for (size_t i = 0; i < prompts_.size(); ++i) {
      VG_ASSIGN_OR_RETURN(const Generation g, Generate(pipeline, method, prompts_[i]));
      record["latency_s"].push_back(g.seconds);
      record["denoise_s"].push_back(g.denoise_seconds);
      const int64_t n = g.dense_tokens / (request_.steps * config.num_layers * branches);
      const double dense =
          branches * request_.steps *
          engine::accel::DenseForwardFlops(config, n, request_.max_sequence_length);
      dense_flops += dense;
      // A schedule's FLOPs follow from its budgets; a policy's from the token counts it reports,
      // which are the dense ones scaled by its share of the dense FLOPs.
      flops +=
          method.schedule.has_value()
              ? branches * AstraeaFlops(config, n, request_.max_sequence_length, *method.schedule)
              : dense * static_cast<double>(g.tokens) / static_cast<double>(g.dense_tokens);
      if (absl::GetFlag(FLAGS_save_frames)) {
        const at::Tensor frames = g.frames.contiguous();
        std::ofstream(absl::StrCat(dir, "/", i, ".raw"), std::ios::binary)
            .write(static_cast<const char*>(frames.data_ptr()), frames.numel());
      }
    }
    record["flops"] = flops / prompts_.size();
    record["dense_flops"] = dense_flops / prompts_.size();
    record["peak_memory_bytes"] =
        device_.is_cuda() ? engine::PeakDeviceMemoryBytes(device_.index()) : 0;
    return record;
  }

  const std::string command_;
  std::vector<Prompt> prompts_;
  GenerateRequest request_;
  at::Device device_ = at::kCPU;
  c10::ScalarType dtype_ = at::kFloat;
  std::unique_ptr<Pipeline> pipeline_;
  SparseMode pipeline_mode_ = SparseMode::kAstraea;
};

}  // namespace
}  // namespace videogen::bench

int main(int argc, char** argv) {
  std::vector<std::string> words(argv, argv + argc);
  absl::ParseCommandLine(argc, argv);
  videogen::bench::Harness harness(absl::StrJoin(words, " "));
  if (const absl::Status status = harness.Run(); !status.ok()) {
    std::fprintf(stderr, "acceleration_compare: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
