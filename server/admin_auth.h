// Authorization of admin RPCs (proto/videogen_service.proto): the call metadata
// "authorization: Bearer <token>" must carry the server's admin token.
#ifndef VIDEOGEN_SERVER_ADMIN_AUTH_H_
#define VIDEOGEN_SERVER_ADMIN_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace videogen::server {

// OK if `context` carries `admin_token` (compared in constant time). PERMISSION_DENIED when no
// token is configured (`admin_token` empty) or the token is wrong; UNAUTHENTICATED when the call
// has no authorization metadata.
absl::Status AuthorizeAdmin(const grpc::CallbackServerContext& context,
                            const std::string& admin_token);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_ADMIN_AUTH_H_
