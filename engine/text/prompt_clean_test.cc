// CleanPrompt()/HtmlUnescape() against values computed with Python 3.11's html.unescape and
// diffusers' prompt_clean (the golden fixture cases are in tokenizer_test.cc).
#include "engine/text/prompt_clean.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::text {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

TEST(HtmlUnescapeTest, NamedReferencesFollowPython) {
  const std::pair<std::string, std::string> cases[] = {
      {"a &amp; b", "a & b"},
      {"&amp;amp;", "&amp;"},  // One pass only.
      {"&lt;tag&gt;", "<tag>"},
      {"&ampere;", "&ere;"},        // Longest legacy prefix "amp".
      {"&notit;", "\xC2\xACit;"},   // "not" (legacy) + "it;".
      {"&notin;", "\xE2\x88\x89"},  // Full name wins.
      {"&copy", "\xC2\xA9"},
      {"&AMP;", "&"},
      {"&am", "&am"},
      {"&bogus;", "&bogus;"},
      {"&;", "&;"},
      {"& amp;", "& amp;"},
      {"&&amp;", "&&"},
      {"&nbsp;x", "\xC2\xA0x"},
      {"&NotNestedGreaterGreater;", "\xE2\xAA\xA2\xCC\xB8"},  // Two code points.
      {"&amp\xC3\xA9", "&\xC3\xA9"},                          // Non-ASCII after a legacy name.
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_THAT(HtmlUnescape(input), IsOkAndHolds(expected)) << input;
  }
}

TEST(HtmlUnescapeTest, NumericReferencesFollowPython) {
  const std::pair<std::string, std::string> cases[] = {
      {"&#65;&#x42;&#X43;", "ABC"},
      {"&#65", "A"},
      {"&#128;", "\xE2\x82\xAC"},  // Windows-1252 euro sign.
      {"&#x81;", "\xC2\x81"},
      {"&#0;", "\xEF\xBF\xBD"},
      {"&#13;", "\r"},
      {"&#xD800;", "\xEF\xBF\xBD"},
      {"&#x110000;", "\xEF\xBF\xBD"},
      {"&#99999999999999999999;", "\xEF\xBF\xBD"},
      {"&#1;x", "x"},  // Invalid code points are dropped.
      {"&#x7f;&#xFDD0;&#xFFFF;&#x10FFFF;", ""},
      {"&#9;", "\t"},
      {"&#x1F642;", "\xF0\x9F\x99\x82"},
      {"&#", "&#"},
      {"&#x;", "&#x;"},
      {"&#xg", "&#xg"},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_THAT(HtmlUnescape(input), IsOkAndHolds(expected)) << input;
  }
}

TEST(CleanPromptTest, UnescapesTwiceAndCollapsesWhitespace) {
  EXPECT_THAT(CleanPrompt("  a &amp;amp;  b\t\n c  "), IsOkAndHolds("a & b c"));
  EXPECT_THAT(CleanPrompt("&amp;lt;b&amp;gt;"), IsOkAndHolds("<b>"));
  EXPECT_THAT(CleanPrompt("x&nbsp;&nbsp;y"), IsOkAndHolds("x y"));
  EXPECT_THAT(CleanPrompt(""), IsOkAndHolds(""));
  EXPECT_THAT(CleanPrompt(" \t\n "), IsOkAndHolds(""));
}

TEST(CleanPromptTest, WhitespaceSetsDifferBetweenStripAndRegex) {
  // U+001C..U+001F: str.strip() removes them at the ends; regex's \s does not match them inside.
  EXPECT_THAT(CleanPrompt("\x1C"
                          "a\x1F"
                          "b\x1D"),
              IsOkAndHolds("a\x1F"
                           "b"));
  // U+3000, U+2028, U+0085, U+00A0 are White_Space; U+200B (zero width space) is not.
  EXPECT_THAT(CleanPrompt("a\xE3\x80\x80"
                          "b\xE2\x80\xA8"
                          "c\xC2\x85"
                          "d\xC2\xA0"
                          "e\xE2\x80\x8B"
                          "f"),
              IsOkAndHolds("a b c d e\xE2\x80\x8B"
                           "f"));
}

TEST(CleanPromptTest, RejectsInvalidUtf8) {
  EXPECT_THAT(CleanPrompt("ok \xFF"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("byte 3")));
  EXPECT_THAT(CleanPrompt("\xC3"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CleanPrompt("\xC0\xAF"), StatusIs(absl::StatusCode::kInvalidArgument));  // Overlong.
  EXPECT_THAT(CleanPrompt("\xED\xA0\x80"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HtmlUnescape("\xF4\x90\x80\x80"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace videogen::engine::text
