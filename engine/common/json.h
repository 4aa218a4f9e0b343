// Strict JSON parsing for the files the engine reads (safetensors headers, config.json,
// model_index.json, shard indexes): any syntax error, and any key repeated within one object, is
// INVALID_ARGUMENT. Callers prefix the file name and may pick a more specific code.
#ifndef VIDEOGEN_ENGINE_COMMON_JSON_H_
#define VIDEOGEN_ENGINE_COMMON_JSON_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace videogen {

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text);

}  // namespace videogen

#endif  // VIDEOGEN_ENGINE_COMMON_JSON_H_
