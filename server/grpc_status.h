// The one conversion from absl::Status to grpc::Status, and the unary replies built on it. absl
// and gRPC share the canonical code numbering, so codes map one to one; the message is kept.
#ifndef VIDEOGEN_SERVER_GRPC_STATUS_H_
#define VIDEOGEN_SERVER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/status.h"

namespace videogen::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Finishes a unary callback call with `status` (OK: the response was filled in).
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_GRPC_STATUS_H_
