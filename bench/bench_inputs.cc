#include "bench/bench_inputs.h"

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace videogen::bench {

absl::StatusOr<std::vector<Prompt>> ReadPrompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the prompt set ", path));
  std::vector<Prompt> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool valid = !j.is_discarded() && j.is_object() && j.contains("prompt") &&
                       j["prompt"].is_string() && j.contains("seed") &&
                       j["seed"].is_number_unsigned() &&
                       (!j.contains("scene_seed") || j["scene_seed"].is_null() ||
                        j["scene_seed"].is_number_integer());
    if (!valid) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a {prompt, seed[, scene_seed]} line: ", line));
    }
    Prompt& prompt = prompts.emplace_back();
    prompt.prompt = j["prompt"].get<std::string>();
    prompt.seed = j["seed"].get<uint64_t>();
    if (j.contains("scene_seed") && !j["scene_seed"].is_null()) {
      prompt.scene_seed = j["scene_seed"].get<int64_t>();
    }
  }
  if (prompts.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no prompts"));
  return prompts;
}

absl::StatusOr<c10::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "cuda") return c10::Device(c10::kCUDA, 0);
  return absl::InvalidArgumentError(absl::StrCat("--device=", name, ": expected cpu or cuda"));
}

absl::StatusOr<c10::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32") return c10::kFloat;
  if (name == "bfloat16") return c10::kBFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("--dtype=", name, ": expected float32 or bfloat16"));
}

nlohmann::json ResultsHeader(std::string_view command, std::string_view device,
                             std::string_view model, const std::vector<Prompt>& prompts) {
  nlohmann::json header;
  header["command"] = command;
  header["date"] = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  header["device"] = device;
  header["model"] = model;
  header["prompts"] = nlohmann::json::array();
  for (size_t i = 0; i < prompts.size(); ++i) {
    header["prompts"].push_back(
        {{"index", i},
         {"prompt", prompts[i].prompt},
         {"seed", prompts[i].seed},
         {"scene_seed", prompts[i].scene_seed.has_value() ? nlohmann::json(*prompts[i].scene_seed)
                                                          : nlohmann::json()}});
  }
  return header;
}

}  // namespace videogen::bench
