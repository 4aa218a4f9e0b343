#include "engine/common/status_macros.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine {
namespace {

using ::videogen::testing::IsOk;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

absl::Status ReturnIfError(absl::Status inner, int* reached) {
  VG_RETURN_IF_ERROR(inner);
  ++*reached;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(absl::StatusOr<int> value, int* calls) {
  ++*calls;
  if (!value.ok()) return value.status();
  return std::make_unique<int>(*value);
}

absl::StatusOr<int> Twice(absl::StatusOr<int> value, int* calls) {
  // Move-only result: the macro must move out of the StatusOr.
  VG_ASSIGN_OR_RETURN(std::unique_ptr<int> boxed, MakeInt(value, calls));
  return 2 * *boxed;
}

TEST(StatusMacrosTest, ReturnIfErrorPassesOkThrough) {
  int reached = 0;
  EXPECT_THAT(ReturnIfError(absl::OkStatus(), &reached), IsOk());
  EXPECT_EQ(reached, 1);
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheErrorUnchanged) {
  int reached = 0;
  EXPECT_THAT(ReturnIfError(absl::NotFoundError("no such job"), &reached),
              StatusIs(absl::StatusCode::kNotFound, "no such job"));
  EXPECT_EQ(reached, 0);
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueAndEvaluatesOnce) {
  int calls = 0;
  EXPECT_THAT(Twice(21, &calls), IsOkAndHolds(42));
  EXPECT_EQ(calls, 1);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesTheError) {
  int calls = 0;
  EXPECT_THAT(Twice(absl::ResourceExhaustedError("out of memory"), &calls),
              StatusIs(absl::StatusCode::kResourceExhausted, "out of memory"));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace videogen::engine
