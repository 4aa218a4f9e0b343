#include "server/admin_auth.h"

#include "absl/strings/str_cat.h"

namespace videogen::server {

absl::Status AuthorizeAdmin(const grpc::CallbackServerContext& context,
                            const std::string& admin_token) {
  if (admin_token.empty()) {
    return absl::PermissionDeniedError(
        "admin RPCs are disabled on this server (no admin_token_file configured)");
  }
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this admin RPC needs the metadata \"authorization: Bearer <token>\"");
  }
  const std::string value(it->second.data(), it->second.size());
  const std::string expected = "Bearer " + admin_token;
  // Compare in time independent of where the strings differ.
  unsigned char difference = value.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < value.size() && i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(value[i] ^ expected[i]);
  }
  if (difference != 0) return absl::PermissionDeniedError("wrong admin token");
  return absl::OkStatus();
}

}  // namespace videogen::server
