// Process-wide logging setup on spdlog.
//
// main() calls InitLogging() once; components then fetch their logger by name with GetLogger()
// and keep the shared_ptr. Every component logger writes to the same sinks (stderr, plus a file if
// configured) with one line format: time, level, logger name, message.
//
// Thread safety: InitLogging() must not race with itself; GetLogger() and the loggers are
// thread-safe.
#ifndef VIDEOGEN_ENGINE_COMMON_LOGGING_H_
#define VIDEOGEN_ENGINE_COMMON_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace videogen {

// Names of the component loggers InitLogging() creates.
inline constexpr absl::string_view kServerLogger = "server";
inline constexpr absl::string_view kEngineLogger = "engine";
inline constexpr absl::string_view kKernelsLogger = "kernels";
inline constexpr absl::string_view kSearchLogger = "search";

struct LoggingOptions {
  // One of trace, debug, info, warn, error, critical, off.
  std::string level = "info";
  // If non-empty, lines are also appended to this file.
  std::string file_path;
  // Write to stderr (the default for servers run under a supervisor).
  bool log_to_stderr = true;
};

// Parses a level name as accepted in LoggingOptions::level; INVALID_ARGUMENT otherwise.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view name);

// (Re)creates the component loggers with `options`. INVALID_ARGUMENT for an unknown level,
// FAILED_PRECONDITION if the log file cannot be opened. Replaces loggers made by an earlier call.
absl::Status InitLogging(const LoggingOptions& options);

// Returns the logger called `name`. Before InitLogging(), or for a name it did not create, returns
// a logger with default settings writing to stderr, so library code never gets nullptr.
std::shared_ptr<spdlog::logger> GetLogger(absl::string_view name);

}  // namespace videogen

#endif  // VIDEOGEN_ENGINE_COMMON_LOGGING_H_
