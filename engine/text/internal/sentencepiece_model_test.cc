// The SentencePiece reader on the tokenizer fixtures; its segmentation is checked end to end
// against transformers by tokenizer_test.
#include "engine/text/internal/sentencepiece_model.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"

namespace videogen::engine::text::internal {
namespace {

using ::testing::HasSubstr;

std::string FixtureModel() {
  std::ifstream in(testing::RunfilePath("tests/golden/wan_tiny/tokenizer/spiece.model"),
                   std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(SentencePieceModelTest, NormalisesWhitespaceAndCompatibilityCharacters) {
  std::string error;
  const auto model = SentencePieceModel::Load(FixtureModel(), &error);
  ASSERT_NE(model, nullptr) << error;
  EXPECT_EQ(model->Normalize("  a   b  "), "\u2581a\u2581b");
  EXPECT_EQ(model->Normalize("   "), "");
  // NFKC through the precompiled map: full-width letters and the "ﬁ" ligature.
  EXPECT_EQ(model->Normalize("\uFF21\uFB01"), "\u2581Afi");
  // A malformed byte is U+FFFD.
  EXPECT_EQ(model->Normalize("a\xFF"), "\u2581a\uFFFD");
}

TEST(SentencePieceModelTest, RunsOfUnknownCharactersAreOnePiece) {
  std::string error;
  const auto model = SentencePieceModel::Load(FixtureModel(), &error);
  ASSERT_NE(model, nullptr) << error;
  const std::vector<int> ids = model->Encode("\u4E00\u4E01\u4E02");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), model->unk_id());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), model->unk_id()), 1);
  EXPECT_EQ(model->Find(model->piece(5)), 5);
  EXPECT_EQ(model->Find("no such piece"), -1);
}

TEST(SentencePieceModelTest, RejectsMalformedAndUnsupportedModels) {
  std::string error;
  EXPECT_EQ(SentencePieceModel::Load("\xFF", &error), nullptr);
  EXPECT_THAT(error, HasSubstr("not a serialized"));
  // trainer_spec { model_type: BPE }.
  EXPECT_EQ(SentencePieceModel::Load(std::string("\x12\x02\x18\x02", 4), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("unigram"));
  // One normal piece "a" and no unknown piece.
  EXPECT_EQ(SentencePieceModel::Load(std::string("\x0A\x03\x0A\x01" "a", 5), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("unknown piece"));
  // The same piece twice.
  const std::string piece("\x0A\x03\x0A\x01" "a", 5);
  EXPECT_EQ(SentencePieceModel::Load(piece + piece, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("twice"));
}

}  // namespace
}  // namespace videogen::engine::text::internal
