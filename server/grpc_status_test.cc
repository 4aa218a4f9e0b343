#include "server/grpc_status.h"

#include "gtest/gtest.h"

namespace videogen::server {
namespace {

TEST(ToGrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(ToGrpcStatusTest, KeepsEveryCanonicalCodeAndTheMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "budget must be in (0, 1]");
    const grpc::Status converted = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(converted.error_code()), code);
    EXPECT_EQ(converted.error_message(), "budget must be in (0, 1]");
  }
}

}  // namespace
}  // namespace videogen::server
