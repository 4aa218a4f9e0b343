#include "engine/common/logging.h"

#include <array>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace videogen {
namespace {

constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%fZ %L %n] %v";
constexpr std::array<absl::string_view, 4> kComponentLoggers = {kServerLogger, kEngineLogger,
                                                                kKernelsLogger, kSearchLogger};

}  // namespace

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view name) {
  // spdlog::level::from_str maps unknown names to "off"; reject them instead.
  for (int level = spdlog::level::trace; level < spdlog::level::n_levels; ++level) {
    const auto value = static_cast<spdlog::level::level_enum>(level);
    const auto view = spdlog::level::to_string_view(value);
    if (absl::string_view(view.data(), view.size()) == name) return value;
  }
  if (name == "warn") return spdlog::level::warn;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log level '", name, "'; expected trace, debug, info, warn, error, critical or off"));
}

absl::Status InitLogging(const LoggingOptions& options) {
  auto level = ParseLogLevel(options.level);
  if (!level.ok()) return level.status();

  std::vector<spdlog::sink_ptr> sinks;
  if (options.log_to_stderr) {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  if (!options.file_path.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file_path));
    } catch (const std::exception& e) {  // spdlog reports open failures by throwing.
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open log file ", options.file_path, ": ", e.what()));
    }
  }

  for (absl::string_view name : kComponentLoggers) {
    auto logger = std::make_shared<spdlog::logger>(std::string(name), sinks.begin(), sinks.end());
    logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
    logger->set_level(*level);
    logger->flush_on(spdlog::level::warn);
    spdlog::drop(std::string(name));
    spdlog::register_logger(std::move(logger));
  }
  return absl::OkStatus();
}

std::shared_ptr<spdlog::logger> GetLogger(absl::string_view name) {
  const std::string key(name);
  if (auto logger = spdlog::get(key)) return logger;
  // Not initialised: a private stderr logger; creating it through the registry could race with
  // another thread doing the same, so it is deliberately not registered.
  auto logger =
      std::make_shared<spdlog::logger>(key, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  return logger;
}

}  // namespace videogen
