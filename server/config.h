// Loading and validating the server's configuration file (a text-format videogen.v1.ServerConfig,
// see proto/server_config.proto).
#ifndef VIDEOGEN_SERVER_CONFIG_H_
#define VIDEOGEN_SERVER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/server_config.pb.h"

namespace videogen::server {

// Parses `text` (text format; unknown fields are errors), fills every unset field with its
// documented default and validates the result. INVALID_ARGUMENT with the field name for a bad
// value or a parse error (with line and column).
absl::StatusOr<videogen::v1::ServerConfig> ParseServerConfig(absl::string_view text);

// Reads and parses the file at `path`. NOT_FOUND if it cannot be read; otherwise as above, with
// the path in the message.
absl::StatusOr<videogen::v1::ServerConfig> LoadServerConfig(const std::string& path);

// Fills unset fields of `config` with their documented defaults.
void ApplyServerConfigDefaults(videogen::v1::ServerConfig& config);

// Checks a config whose defaults are applied. INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateServerConfig(const videogen::v1::ServerConfig& config);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_CONFIG_H_
