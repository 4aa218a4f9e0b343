#include "server/config.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace videogen::server {
namespace {

using ::videogen::v1::ServerConfig;

// Collects TextFormat's parse errors instead of letting protobuf log them.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message));
  }
  std::string Errors() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

absl::Status OutOfRange(absl::string_view field, int64_t value, int64_t low, int64_t high) {
  return absl::InvalidArgumentError(
      absl::StrCat("config field ", field, " = ", value, " is outside [", low, ", ", high, "]"));
}

absl::Status CheckRange(absl::string_view field, int64_t value, int64_t low, int64_t high) {
  return value < low || value > high ? OutOfRange(field, value, low, high) : absl::OkStatus();
}

bool IsValidModelName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateListenAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("config field listen_address = \"", address,
                                                   "\" is not \"host:port\" (port 0-65535)"));
  }
  return absl::OkStatus();
}

}  // namespace

void ApplyServerConfigDefaults(ServerConfig& config) {
  if (config.listen_address().empty()) config.set_listen_address("0.0.0.0:50051");
  if (!config.has_metrics_port()) config.set_metrics_port(9090);
  if (config.data_dir().empty()) config.set_data_dir("/var/lib/videogen");
  if (config.schedule_registry_path().empty()) {
    config.set_schedule_registry_path(absl::StrCat(config.data_dir(), "/schedules.db"));
  }
  if (config.max_queued_jobs() == 0) config.set_max_queued_jobs(64);
  if (!config.has_result_retention()) config.mutable_result_retention()->set_seconds(24 * 3600);
  auto* limits = config.mutable_limits();
  if (limits->max_prompt_bytes() == 0) limits->set_max_prompt_bytes(2048);
  if (limits->max_height() == 0) limits->set_max_height(1280);
  if (limits->max_width() == 0) limits->set_max_width(1280);
  if (limits->max_frames() == 0) limits->set_max_frames(81);
  if (limits->max_steps() == 0) limits->set_max_steps(100);
  if (limits->max_request_bytes() == 0) limits->set_max_request_bytes(1 << 20);
  if (config.default_model().empty() && config.models_size() > 0) {
    config.set_default_model(config.models(0).name());
  }
  if (config.log_level() == videogen::v1::LOG_LEVEL_UNSPECIFIED) {
    config.set_log_level(videogen::v1::LOG_LEVEL_INFO);
  }
  if (!config.has_shutdown_grace_period()) config.mutable_shutdown_grace_period()->set_seconds(60);
  if (config.fetch_chunk_bytes() == 0) config.set_fetch_chunk_bytes(1 << 20);
  if (config.mp4().crf() == 0) config.mutable_mp4()->set_crf(18);
  if (config.mp4().preset().empty()) config.mutable_mp4()->set_preset("medium");
}

absl::Status ValidateServerConfig(const ServerConfig& config) {
  if (absl::Status s = ValidateListenAddress(config.listen_address()); !s.ok()) return s;
  if (config.has_tls() && (config.tls().cert_file().empty() || config.tls().key_file().empty())) {
    return absl::InvalidArgumentError("config field tls needs both cert_file and key_file");
  }
  if (absl::Status s = CheckRange("metrics_port", config.metrics_port(), 0, 65535); !s.ok())
    return s;
  if (absl::Status s = CheckRange("max_queued_jobs", config.max_queued_jobs(), 1, 100000);
      !s.ok()) {
    return s;
  }
  if (config.result_retention().seconds() <= 0) {
    return absl::InvalidArgumentError("config field result_retention must be positive");
  }
  if (config.shutdown_grace_period().seconds() < 0) {
    return absl::InvalidArgumentError("config field shutdown_grace_period must not be negative");
  }
  const auto& limits = config.limits();
  const struct {
    const char* field;
    int64_t value, low, high;
  } ranges[] = {
      {"limits.max_prompt_bytes", limits.max_prompt_bytes(), 1, 1 << 20},
      {"limits.max_height", limits.max_height(), 16, 8192},
      {"limits.max_width", limits.max_width(), 16, 8192},
      {"limits.max_frames", limits.max_frames(), 1, 4097},
      {"limits.max_steps", limits.max_steps(), 1, 1000},
      {"limits.max_request_bytes", limits.max_request_bytes(), 1024, 64 << 20},
      {"fetch_chunk_bytes", config.fetch_chunk_bytes(), 4096, 4 << 20},
      {"mp4.crf", config.mp4().crf(), 1, 51},
  };
  for (const auto& range : ranges) {
    if (absl::Status s = CheckRange(range.field, range.value, range.low, range.high); !s.ok()) {
      return s;
    }
  }
  if (!(limits.min_budget() >= 0 && limits.min_budget() <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config field limits.min_budget = ", limits.min_budget(), " is outside [0, 1]"));
  }
  static const absl::flat_hash_set<std::string> kPresets = {"ultrafast", "superfast", "veryfast",
                                                            "faster",    "fast",      "medium",
                                                            "slow",      "slower",    "veryslow"};
  if (!kPresets.contains(config.mp4().preset())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config field mp4.preset = \"", config.mp4().preset(),
        "\" is not one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, "
        "veryslow"));
  }
  absl::flat_hash_set<std::string> names;
  for (const auto& model : config.models()) {
    if (!IsValidModelName(model.name())) {
      return absl::InvalidArgumentError(absl::StrCat("config field models.name = \"", model.name(),
                                                     "\" must be 1-128 characters of [a-z0-9._-]"));
    }
    if (!names.insert(model.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field models.name = \"", model.name(), "\" appears twice"));
    }
    if (model.path().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field models.path of model \"", model.name(), "\" is empty"));
    }
  }
  if (!config.default_model().empty() && !names.contains(config.default_model())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config field default_model = \"", config.default_model(), "\" is not one of models"));
  }
  const auto& layout = config.engine_layout();
  if (layout.devices_per_group() < 0) {
    return absl::InvalidArgumentError("config field engine_layout.devices_per_group is negative");
  }
  if (layout.cfg_parallel_degree() != 0 && layout.cfg_parallel_degree() != 1 &&
      layout.cfg_parallel_degree() != 2) {
    return OutOfRange("engine_layout.cfg_parallel_degree", layout.cfg_parallel_degree(), 1, 2);
  }
  if (config.models().empty()) {
    return absl::InvalidArgumentError("config field models: at least one model is required");
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view text) {
  ServerConfig config;
  ErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse config: ", errors.Errors()));
  }
  ApplyServerConfigDefaults(config);
  if (absl::Status status = ValidateServerConfig(config); !status.ok()) return status;
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<ServerConfig> config = ParseServerConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace videogen::server
