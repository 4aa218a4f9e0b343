// GoogleMock matchers for absl::Status and absl::StatusOr<T> (abseil 20220623 ships none).
//
//   EXPECT_THAT(queue.Push(job), IsOk());
//   EXPECT_THAT(store.Get(id), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(store.Get(id), StatusIs(absl::StatusCode::kNotFound, HasSubstr("job 7")));
//   EXPECT_THAT(ParseBudget("0.5"), IsOkAndHolds(0.5));
//   ASSERT_OK_AND_ASSIGN(auto model, LoadModel(path));
//
// Each matcher accepts both absl::Status and absl::StatusOr<T>.
#ifndef VIDEOGEN_TESTS_TESTING_STATUS_MATCHERS_H_
#define VIDEOGEN_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace videogen::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOkMatcher, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "whose status is " << status;
  return status.ok();
}

MATCHER_P2(StatusIsMatcher, code, message_matcher,
           "has code " + absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER_P(
    IsOkAndHoldsMatcher, value_matcher,
    "is OK and holds a value that " +
        ::testing::DescribeMatcher<typename std::decay_t<arg_type>::value_type>(value_matcher)) {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace internal

// Matches an OK absl::Status or absl::StatusOr<T>.
inline auto IsOk() { return internal::IsOkMatcher(); }

// Matches a status with `code` (any message).
inline auto StatusIs(absl::StatusCode code) {
  return internal::StatusIsMatcher(code, ::testing::_);
}

// Matches a status with `code` whose message matches `message_matcher` (a matcher or a string).
template <typename MessageMatcher>
auto StatusIs(absl::StatusCode code, MessageMatcher&& message_matcher) {
  return internal::StatusIsMatcher(
      code, ::testing::MatcherCast<std::string>(std::forward<MessageMatcher>(message_matcher)));
}

// Matches an OK absl::StatusOr<T> whose value matches `value_matcher` (a matcher or a value).
template <typename ValueMatcher>
auto IsOkAndHolds(ValueMatcher&& value_matcher) {
  return internal::IsOkAndHoldsMatcher(std::forward<ValueMatcher>(value_matcher));
}

}  // namespace videogen::testing

#define VG_TESTING_CONCAT_INNER_(a, b) a##b
#define VG_TESTING_CONCAT_(a, b) VG_TESTING_CONCAT_INNER_(a, b)

// Asserts that `expr` (an absl::Status or absl::StatusOr) is OK.
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::videogen::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::videogen::testing::IsOk())

// Asserts that `expr` (an absl::StatusOr<T>) is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(VG_TESTING_CONCAT_(vg_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)            \
  auto statusor = (expr);                                          \
  ASSERT_TRUE(statusor.ok()) << "status is " << statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // VIDEOGEN_TESTS_TESTING_STATUS_MATCHERS_H_
