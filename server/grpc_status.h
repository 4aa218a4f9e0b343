// The one conversion from absl::Status to grpc::Status. absl and gRPC share the canonical code
// numbering, so codes map one to one; the message is kept as is.
#ifndef VIDEOGEN_SERVER_GRPC_STATUS_H_
#define VIDEOGEN_SERVER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace videogen::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_GRPC_STATUS_H_
