#include "engine/common/json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

TEST(ParseStrictJsonTest, ParsesNestedValuesKeepingIntegersExact) {
  ASSERT_OK_AND_ASSIGN(
      const auto json,
      ParseStrictJson(R"({"a": [1, 2.5, null, true], "b": {"c": 18446744073709551615}})"));
  EXPECT_EQ(json["a"][0].get<int>(), 1);
  EXPECT_TRUE(json["a"][1].is_number_float());
  EXPECT_EQ(json["b"]["c"].get<uint64_t>(), 18446744073709551615ull);
}

TEST(ParseStrictJsonTest, RejectsRepeatedKeysAtAnyDepth) {
  EXPECT_THAT(ParseStrictJson(R"({"a": 1, "a": 2})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repeats the key \"a\"")));
  EXPECT_THAT(ParseStrictJson(R"({"x": {"k": 1, "k": 1}})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"k\"")));
  // The same key in sibling objects is fine.
  EXPECT_OK(ParseStrictJson(R"([{"k": 1}, {"k": 2}])"));
}

TEST(ParseStrictJsonTest, RejectsSyntaxErrors) {
  EXPECT_THAT(ParseStrictJson(R"({"a": )"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(ParseStrictJson("{} trailing"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseStrictJson(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace videogen
