#include "engine/wan/testing/golden_request.h"

#include <map>
#include <memory>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/weights/safetensors.h"
#include "tests/testing/runfiles.h"

namespace videogen::engine::wan::testing {
namespace {

// The metadata entry `key` of the golden file `path`, or INVALID_ARGUMENT.
absl::StatusOr<std::string> Entry(const std::map<std::string, std::string>& metadata,
                                  const std::string& key, const std::string& path) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the golden's metadata has no \"", key, "\""));
  }
  return it->second;
}

// Entry parsed as a number (absl::SimpleAtoi/SimpleAtod by the type of `out`).
template <typename T>
absl::Status Number(const std::map<std::string, std::string>& metadata, const std::string& key,
                    const std::string& path, T& out) {
  absl::StatusOr<std::string> text = Entry(metadata, key, path);
  if (!text.ok()) return text.status();
  bool parsed;
  if constexpr (std::is_floating_point_v<T>) {
    parsed = absl::SimpleAtod(*text, &out);
  } else {
    parsed = absl::SimpleAtoi(*text, &out);
  }
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the golden's \"", key, "\" is not a number: \"", *text, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GenerateRequest> RecordedRequest(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  const std::map<std::string, std::string>& metadata = (*file)->header().metadata;
  GenerateRequest request;
  absl::StatusOr<std::string> prompt = Entry(metadata, "prompt", path);
  if (!prompt.ok()) return prompt.status();
  request.prompt = *prompt;
  absl::StatusOr<std::string> negative = Entry(metadata, "negative_prompt", path);
  if (!negative.ok()) return negative.status();
  request.negative_prompt = *negative;
  for (const absl::Status& status : {
           Number(metadata, "height", path, request.height),
           Number(metadata, "width", path, request.width),
           Number(metadata, "num_frames", path, request.frames),
           Number(metadata, "num_inference_steps", path, request.steps),
           Number(metadata, "guidance_scale", path, request.guidance_scale),
           Number(metadata, "max_sequence_length", path, request.max_sequence_length),
           Number(metadata, "seed", path, request.seed),
       }) {
    if (!status.ok()) return status;
  }
  return request;
}

absl::StatusOr<GenerateRequest> WanTinyGoldenRequest() {
  return RecordedRequest(
      ::videogen::testing::RunfilePath("tests/golden/wan_tiny/pipeline_golden.safetensors"));
}

}  // namespace videogen::engine::wan::testing
