// Whole-file reads for the small files the engine and server load (configs, indexes, tokenizer
// models, TLS keys).
#ifndef VIDEOGEN_ENGINE_COMMON_FILE_H_
#define VIDEOGEN_ENGINE_COMMON_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace videogen {

// The bytes of `path` (binary). NOT_FOUND "cannot read <path>" if it cannot be opened or read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace videogen

#endif  // VIDEOGEN_ENGINE_COMMON_FILE_H_
