#include "engine/common/torch_status.h"

#include <cstdint>
#include <new>
#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace videogen::engine {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::videogen::testing::IsOk;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

TEST(RunTorchTest, ReturnsOkAndTheResultWhenNothingThrows) {
  int calls = 0;
  EXPECT_THAT(RunTorch("noop", [&] { ++calls; }), IsOk());
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(RunTorchOr("sum", [] { return torch::arange(5).sum().item<int64_t>(); }),
              IsOkAndHolds(10));
}

TEST(RunTorchTest, ShapeErrorIsInternalWithContextAndNoBacktrace) {
  const absl::Status status = RunTorch("job j-1 step 3", [] {
    torch::matmul(torch::ones({2, 3}), torch::ones({4, 5}));
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal,
                               AllOf(HasSubstr("job j-1 step 3: "),
                                     HasSubstr("cannot be multiplied"), Not(HasSubstr("\n")))));
}

TEST(RunTorchTest, HostOutOfMemoryIsResourceExhausted) {
  // 2^50 floats (4 PiB): no machine has that, so the allocator fails at once.
  const auto result =
      RunTorchOr("alloc", [] { return torch::empty({int64_t{1} << 50}, torch::kFloat); });
  EXPECT_THAT(result,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("alloc: out of memory")));
}

TEST(RunTorchTest, ConvertsStandardExceptions) {
  EXPECT_THAT(RunTorch("load", [] { throw std::bad_alloc(); }),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(RunTorch("load", [] { throw std::runtime_error("disk gone\nmore"); }),
              StatusIs(absl::StatusCode::kInternal, "load: disk gone"));
  EXPECT_THAT(RunTorch("load", [] { throw 42; }),
              StatusIs(absl::StatusCode::kInternal, "load: unknown exception"));
}

}  // namespace
}  // namespace videogen::engine
