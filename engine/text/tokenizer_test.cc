// The tokenizer against transformers 5.23 (tests/golden/VERSIONS.json) on the tiny SentencePiece
// models of tests/golden/wan_tiny (made by tools/golden/fixtures_text.py): ids, masks and cleaned
// prompts identical for every fixture prompt.
#include "engine/text/tokenizer.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/weights/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::text {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

const std::string kTokenizer = "tests/golden/wan_tiny/tokenizer";
const std::string kUmt5Layout = "tests/golden/wan_tiny/tokenizer_umt5_layout";

class TokenizerGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(golden_,
                         Checkpoint::Open(RunfilePath("tests/golden/wan_tiny"), "text_golden"));
  }
  std::string Text(const std::string& name) {
    absl::StatusOr<at::Tensor> bytes = golden_->Load(name, at::kByte);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (!bytes.ok() || bytes->numel() == 0) return "";
    return std::string(reinterpret_cast<const char*>(bytes->data_ptr<uint8_t>()), bytes->numel());
  }
  std::vector<int64_t> Row(const std::string& name, int64_t row) {
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, at::kLong);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    if (!tensor.ok()) return {};
    const at::Tensor r = (*tensor)[row].contiguous();
    return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
  }
  int64_t Rows(const std::string& name) {
    absl::StatusOr<at::Tensor> tensor = golden_->Load(name, at::kLong);
    return tensor.ok() ? tensor->size(0) : 0;
  }
  // Every prompt of group `prefix` ("" for the main group) against the golden ids and masks.
  void ExpectMatchesGolden(const Tokenizer& tokenizer, const std::string& prefix,
                           int64_t max_length, bool check_cleaned) {
    const int64_t rows = Rows(prefix + "ids");
    ASSERT_GT(rows, 0) << prefix;
    for (int64_t i = 0; i < rows; ++i) {
      const std::string prompt = Text(absl::StrCat(prefix, "prompt.", i));
      ASSERT_OK_AND_ASSIGN(const Tokenizer::Encoding encoding,
                           tokenizer.Encode(prompt, max_length));
      const std::vector<int64_t> mask = Row(prefix + "mask", i);
      EXPECT_THAT(encoding.ids, ElementsAreArray(Row(prefix + "ids", i))) << prefix << i;
      EXPECT_THAT(encoding.mask, ElementsAreArray(mask)) << prefix << i;
      int64_t ones = 0;
      for (const int64_t m : mask) ones += m;
      EXPECT_EQ(encoding.length, ones) << prefix << i;
      if (check_cleaned) {
        EXPECT_EQ(encoding.cleaned, Text(absl::StrCat(prefix, "cleaned.", i))) << prefix << i;
      }
    }
  }

  std::unique_ptr<Checkpoint> golden_;
};

TEST_F(TokenizerGoldenTest, PipelinePromptsMatchTransformers) {
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(RunfilePath(kTokenizer)));
  ExpectMatchesGolden(*tokenizer, "", 16, /*check_cleaned=*/true);
}

TEST_F(TokenizerGoldenTest, NormalisationHtmlAndSpecialTokensMatchTransformers) {
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(RunfilePath(kTokenizer)));
  ExpectMatchesGolden(*tokenizer, "tok.", 32, /*check_cleaned=*/true);
}

TEST_F(TokenizerGoldenTest, DefaultMaxLengthMatchesTransformers) {
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(RunfilePath(kTokenizer)));
  ExpectMatchesGolden(*tokenizer, "len512.", Tokenizer::kDefaultMaxLength,
                      /*check_cleaned=*/false);
  ASSERT_OK_AND_ASSIGN(const Tokenizer::Encoding longer,
                       tokenizer->Encode(Text("len512.prompt.1")));
  EXPECT_TRUE(longer.truncated);
  EXPECT_EQ(longer.length, 512);
  EXPECT_EQ(longer.ids.back(), tokenizer->eos_id());
}

TEST_F(TokenizerGoldenTest, Umt5LayoutMatchesTransformers) {
  // pad 0, eos 1, bos 2, unk 3, byte fallback: transformers gives unknown text id 2, no bytes.
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(RunfilePath(kUmt5Layout)));
  ExpectMatchesGolden(*tokenizer, "umt5_layout.", 24, /*check_cleaned=*/false);
}

TEST_F(TokenizerGoldenTest, TruncationKeepsEosAndReportsIt) {
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(RunfilePath(kTokenizer)));
  ASSERT_OK_AND_ASSIGN(const Tokenizer::Encoding long_prompt,
                       tokenizer->Encode(Text("prompt.4"), 16));
  EXPECT_TRUE(long_prompt.truncated);
  EXPECT_EQ(long_prompt.length, 16);
  EXPECT_EQ(long_prompt.ids[15], tokenizer->eos_id());
  ASSERT_OK_AND_ASSIGN(const Tokenizer::Encoding short_prompt, tokenizer->Encode("a cat", 16));
  EXPECT_FALSE(short_prompt.truncated);
  EXPECT_LT(short_prompt.length, 16);
  ASSERT_OK_AND_ASSIGN(const Tokenizer::Encoding only_eos, tokenizer->Encode("a cat", 1));
  EXPECT_TRUE(only_eos.truncated);
  EXPECT_THAT(only_eos.ids, ElementsAreArray({tokenizer->eos_id()}));
  ASSERT_OK_AND_ASSIGN(const Tokenizer::Encoding empty, tokenizer->Encode("", 4));
  EXPECT_FALSE(empty.truncated);
  EXPECT_THAT(empty.ids, ElementsAreArray({tokenizer->eos_id(), tokenizer->pad_id(),
                                           tokenizer->pad_id(), tokenizer->pad_id()}));
  EXPECT_THAT(empty.mask, ElementsAreArray({1, 0, 0, 0}));
}

TEST(TokenizerTest, RejectsBadArgumentsAndUnsupportedSpellings) {
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(RunfilePath(kTokenizer)));
  EXPECT_THAT(tokenizer->Encode("a cat", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(tokenizer->Encode("a \xFF"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(const auto layout, Tokenizer::Load(RunfilePath(kUmt5Layout)));
  // "<s>" is a control piece there but not a special token; "<0x41>" a byte piece.
  EXPECT_THAT(layout->Encode("a <s> b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"<s>\"")));
  EXPECT_THAT(layout->Encode("x<0x41>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"<0x41>\"")));
  EXPECT_OK(layout->Encode("a <unk> b </s> <extra_id_4>"));
  EXPECT_EQ(layout->vocab_size(), 405);
}

TEST(TokenizerTest, MissingModelIsNotFoundNamingThePath) {
  const std::string dir = RunfilePath("tests/golden/wan_tiny/text_encoder");
  EXPECT_THAT(Tokenizer::Load(dir),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir + "/spiece.model")));
}

class TokenizerConfigTest : public ::testing::Test {
 protected:
  // A tokenizer folder in the test's temporary directory: the fixture's spiece.model (or
  // `model_bytes`) and `config` as tokenizer_config.json (none if empty).
  std::string MakeDir(const std::string& name, const std::string& config,
                      const std::string* model_bytes = nullptr) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
    std::filesystem::create_directories(dir);
    std::string model = model_bytes != nullptr ? *model_bytes : "";
    if (model_bytes == nullptr) {
      std::ifstream in(RunfilePath(kTokenizer) + "/spiece.model", std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      model = bytes.str();
    }
    std::ofstream(dir + "/spiece.model", std::ios::binary) << model;
    if (!config.empty()) std::ofstream(dir + "/tokenizer_config.json") << config;
    return dir;
  }
};

TEST_F(TokenizerConfigTest, WithoutConfigUsesT5Defaults) {
  // T5Tokenizer's defaults: 100 sentinels after the 160 pieces, <extra_id_0> last.
  ASSERT_OK_AND_ASSIGN(const auto tokenizer, Tokenizer::Load(MakeDir("no_config", "")));
  EXPECT_EQ(tokenizer->vocab_size(), 260);
  ASSERT_OK_AND_ASSIGN(const auto ids, tokenizer->Tokenize("<extra_id_0><extra_id_99>"));
  EXPECT_THAT(ids, ElementsAreArray({259, 160}));
}

TEST_F(TokenizerConfigTest, AddedTokensDecoderGivesIds) {
  ASSERT_OK_AND_ASSIGN(
      const auto tokenizer,
      Tokenizer::Load(MakeDir("decoder", R"({"extra_ids": 0, "added_tokens_decoder": {
          "170": {"content": "<extra_id_0>", "lstrip": false, "normalized": false,
                  "rstrip": false, "single_word": false, "special": true}}})")));
  ASSERT_OK_AND_ASSIGN(const auto ids, tokenizer->Tokenize("<extra_id_0>"));
  EXPECT_THAT(ids, ElementsAreArray({170}));
  EXPECT_EQ(tokenizer->vocab_size(), 171);
}

TEST_F(TokenizerConfigTest, RejectsBadConfigs) {
  EXPECT_THAT(Tokenizer::Load(MakeDir("single_word", R"({"added_tokens_decoder": {
                  "170": {"content": "<x>", "single_word": true}}})")),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("single_word")));
  EXPECT_THAT(
      Tokenizer::Load(MakeDir("unknown_special", R"({"additional_special_tokens": ["<image>"]})")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"<image>\"")));
  EXPECT_THAT(Tokenizer::Load(MakeDir("no_pad", R"({"pad_token": null})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pad_token")));
  EXPECT_THAT(Tokenizer::Load(MakeDir("bad_json", R"({"extra_ids": 1, "extra_ids": 2})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tokenizer_config.json")));
  const std::string garbage = "not a model";
  EXPECT_THAT(Tokenizer::Load(MakeDir("garbage", "", &garbage)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("spiece.model")));
}

}  // namespace
}  // namespace videogen::engine::text
