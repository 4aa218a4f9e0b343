// What the bench binaries (acceleration_compare, teacache_calibrate) share: the prompt set file,
// the --device / --dtype flag values they read, and the header of the results they write.
#ifndef VIDEOGEN_BENCH_BENCH_INPUTS_H_
#define VIDEOGEN_BENCH_BENCH_INPUTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "c10/core/Device.h"
#include "c10/core/ScalarType.h"
#include "nlohmann/json.hpp"

namespace videogen::bench {

struct Prompt {
  std::string prompt;
  uint64_t seed = 0;                  // The generation's noise seed.
  std::optional<int64_t> scene_seed;  // The tools/demo_data scene it describes, if any.
};

// A prompt set: one JSON object per line, {"prompt": str, "seed": int, "scene_seed": int or
// null (optional)}; empty lines skipped. NOT_FOUND for an unreadable file; INVALID_ARGUMENT
// naming the line for anything else, or for a file without prompts.
absl::StatusOr<std::vector<Prompt>> ReadPrompts(const std::string& path);

// "cpu" or "cuda" (device 0); INVALID_ARGUMENT otherwise.
absl::StatusOr<c10::Device> ParseDevice(const std::string& name);
// "float32" or "bfloat16"; INVALID_ARGUMENT otherwise.
absl::StatusOr<c10::ScalarType> ParseDtype(const std::string& name);

// The part of a results file that says what ran: {"command", "date" (UTC, YYYY-MM-DD), "device",
// "model", "prompts": [{"index", "prompt", "seed", "scene_seed" (null if none)}]}. The caller adds
// its settings and measurements.
nlohmann::json ResultsHeader(std::string_view command, std::string_view device,
                             std::string_view model, const std::vector<Prompt>& prompts);

}  // namespace videogen::bench

#endif  // VIDEOGEN_BENCH_BENCH_INPUTS_H_
