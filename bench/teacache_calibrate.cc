// Fits TeaCache's rescale polynomial on one model (issue 10; engine/accel/teacache_calibration.h):
// runs the prompt set's denoising densely, recording every CFG branch's (input change, output
// change) at every step after the first, fits the polynomial, and prints it, the fit's quality
// and the policy spec to use (a request's `acceleration`, or acceleration_compare's --methods).
//
//   teacache_calibrate --prompts=FILE (--model_dir=DIR | --random_wan_1p3b)
//       [--device=cuda] [--dtype=bfloat16] [--height=320] [--width=448] [--frames=17]
//       [--steps=30] [--guidance_scale=5] [--degree=4] [--threshold=0.1] [--json=FILE]
//
// --prompts: one JSON object per line, {"prompt": str, "seed": int} (other keys ignored), as
// acceleration_compare reads. Calibrate at the size, steps and guidance the policy will run at.
// --threshold only goes into the printed spec. --json: the settings, every pair, the
// coefficients, the fit's quality and the spec.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_inputs.h"
#include "engine/accel/teacache.h"
#include "engine/accel/teacache_calibration.h"
#include "engine/common/status_macros.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/testing/random_pipeline.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, prompts, "", "Prompt set: JSON lines {prompt, seed}.");
ABSL_FLAG(std::string, model_dir, "", "A diffusers-format model folder.");
ABSL_FLAG(bool, random_wan_1p3b, false,
          "Use Wan2.1-1.3B's configuration with random weights instead of --model_dir (a smoke "
          "test: its coefficients mean nothing).");
ABSL_FLAG(std::string, device, "cuda", "cpu or cuda.");
ABSL_FLAG(std::string, dtype, "bfloat16",
          "float32 or bfloat16 (the transformer's; --random_wan_1p3b is bfloat16).");
ABSL_FLAG(int, height, 320, "Pixels.");
ABSL_FLAG(int, width, 448, "Pixels.");
ABSL_FLAG(int, frames, 17, "4k + 1.");
ABSL_FLAG(int, steps, 30, "Denoising steps.");
ABSL_FLAG(double, guidance_scale, 5.0, "Classifier-free guidance scale.");
ABSL_FLAG(int, degree, 4, "Degree of the rescale polynomial.");
ABSL_FLAG(double, threshold, 0.1, "The threshold of the printed spec.");
ABSL_FLAG(std::string, json, "", "Write the pairs and the fit to this file.");

namespace videogen::bench {
namespace {

using engine::wan::GenerateRequest;
using engine::wan::Pipeline;
using Json = nlohmann::json;

// "a·x^4 + b·x^3 + ... + e" with 6 significant digits (the spec has them all).
std::string Polynomial(const std::vector<double>& coefficients) {
  std::string text;
  const int degree = static_cast<int>(coefficients.size()) - 1;
  for (int i = 0; i <= degree; ++i) {
    const double c = coefficients[i];
    const int power = degree - i;
    absl::StrAppend(&text, i == 0 ? (c < 0 ? "-" : "") : (c < 0 ? " - " : " + "),
                    absl::StrFormat("%.6g", std::abs(c)),
                    power == 0   ? ""
                    : power == 1 ? "·x"
                                 : absl::StrCat("·x^", power));
  }
  return text;
}

absl::Status Run(const std::string& command) {
  VG_ASSIGN_OR_RETURN(const std::vector<Prompt> prompts, ReadPrompts(absl::GetFlag(FLAGS_prompts)));
  // The spec's settings are checked before the runs.
  engine::accel::TeaCacheOptions spec_options;
  spec_options.threshold = absl::GetFlag(FLAGS_threshold);
  VG_RETURN_IF_ERROR(engine::accel::TeaCachePolicy::Create(spec_options).status());
  const std::string device_name = absl::GetFlag(FLAGS_device);
  VG_ASSIGN_OR_RETURN(const at::Device device, ParseDevice(device_name));
  const std::string dtype_name = absl::GetFlag(FLAGS_dtype);
  VG_ASSIGN_OR_RETURN(const c10::ScalarType dtype, ParseDtype(dtype_name));

  GenerateRequest base;
  base.height = absl::GetFlag(FLAGS_height);
  base.width = absl::GetFlag(FLAGS_width);
  base.frames = absl::GetFlag(FLAGS_frames);
  base.steps = absl::GetFlag(FLAGS_steps);
  base.guidance_scale = absl::GetFlag(FLAGS_guidance_scale);
  std::vector<GenerateRequest> requests;
  for (const Prompt& prompt : prompts) {
    GenerateRequest& request = requests.emplace_back(base);
    request.prompt = prompt.prompt;
    request.seed = prompt.seed;
  }

  std::unique_ptr<Pipeline> pipeline;
  if (absl::GetFlag(FLAGS_random_wan_1p3b)) {
    VG_ASSIGN_OR_RETURN(pipeline, engine::wan::testing::RandomWan21Pipeline1p3B(device));
  } else {
    if (absl::GetFlag(FLAGS_model_dir).empty()) {
      return absl::InvalidArgumentError("--model_dir or --random_wan_1p3b is required");
    }
    VG_ASSIGN_OR_RETURN(pipeline, Pipeline::Load(absl::GetFlag(FLAGS_model_dir), dtype, device));
  }
  const int degree = absl::GetFlag(FLAGS_degree);
  const absl::Time start = absl::Now();
  VG_ASSIGN_OR_RETURN(const engine::accel::TeaCacheCalibration calibration,
                      engine::accel::CalibrateTeaCache(*pipeline, requests, degree));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  spec_options.coefficients = calibration.coefficients;
  VG_ASSIGN_OR_RETURN(const std::unique_ptr<engine::accel::TeaCachePolicy> policy,
                      engine::accel::TeaCachePolicy::Create(spec_options));
  const std::string spec = policy->Describe();

  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_min = kInf, x_max = -kInf, y_min = kInf, y_max = -kInf;
  for (const auto& [x, y] : calibration.pairs) {
    x_min = std::min(x_min, x);
    x_max = std::max(x_max, x);
    y_min = std::min(y_min, y);
    y_max = std::max(y_max, y);
  }
  std::printf("pairs        %zu from %zu prompts (%.1f s)\n", calibration.pairs.size(),
              prompts.size(), seconds);
  std::printf("input x      [%.6g, %.6g]\n", x_min, x_max);
  std::printf("output y     [%.6g, %.6g]\n", y_min, y_max);
  std::printf("p(x)         %s\n", Polynomial(calibration.coefficients).c_str());
  std::printf("RMS residual %.6g\n", calibration.rms_residual);
  std::printf("R²           %.6f\n", calibration.r_squared);
  std::printf("spec         %s\n", spec.c_str());
  std::fflush(stdout);

  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    Json out = ResultsHeader(command, device_name,
                             absl::GetFlag(FLAGS_random_wan_1p3b) ? "random Wan2.1-1.3B"
                                                                  : absl::GetFlag(FLAGS_model_dir),
                             prompts);
    out["settings"] = {{"height", base.height},
                       {"width", base.width},
                       {"frames", base.frames},
                       {"steps", base.steps},
                       {"guidance_scale", base.guidance_scale},
                       {"max_sequence_length", base.max_sequence_length},
                       // The random model is bf16 whatever --dtype says.
                       {"dtype", absl::GetFlag(FLAGS_random_wan_1p3b) ? "bfloat16" : dtype_name}};
    // Prompt by prompt, step by step, a guided step's prompt branch before its negative one.
    out["pairs"] = Json::array();
    for (const auto& [x, y] : calibration.pairs) out["pairs"].push_back({x, y});
    out["degree"] = degree;
    out["coefficients"] = calibration.coefficients;
    out["rms_residual"] = calibration.rms_residual;
    out["r_squared"] = calibration.r_squared;  // null if NaN (all output changes equal).
    out["spec"] = spec;
    std::ofstream file(json_path);
    file << out.dump(2) << "\n";
    if (!file) return absl::InternalError(absl::StrCat("cannot write --json ", json_path));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace videogen::bench

int main(int argc, char** argv) {
  std::vector<std::string> words(argv, argv + argc);
  absl::ParseCommandLine(argc, argv);
  if (const absl::Status status = videogen::bench::Run(absl::StrJoin(words, " ")); !status.ok()) {
    std::fprintf(stderr, "teacache_calibrate: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
