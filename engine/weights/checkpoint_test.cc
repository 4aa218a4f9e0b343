#include "engine/weights/checkpoint.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/weights/testing/write_safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::WriteSafetensors;
using ::videogen::testing::IsOk;
using ::videogen::testing::StatusIs;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
    weight_ = at::randn({4, 3});
    table_ = at::randn({1, 2, 3});
    norm_bias_ = at::randn({3});
    steps_ = at::arange(5, at::kLong);
  }
  void WriteText(const std::string& name, const std::string& text) {
    std::ofstream(absl::StrCat(dir_, "/", name)) << text;
  }

  std::string dir_;
  at::Tensor weight_, table_, norm_bias_, steps_;
};

TEST_F(CheckpointTest, ShardedCheckpointLoadsWithTheDtypePolicy) {
  ASSERT_THAT(WriteSafetensors(dir_ + "/m-1.safetensors",
                               {{"blocks.0.proj.weight", weight_}, {"scale_shift_table", table_}}),
              IsOk());
  ASSERT_THAT(WriteSafetensors(dir_ + "/m-2.safetensors",
                               {{"blocks.0.norm2.bias", norm_bias_}, {"steps", steps_}}),
              IsOk());
  WriteText("diffusion_pytorch_model.safetensors.index.json", R"({
    "metadata": {"total_size": 124},
    "weight_map": {"blocks.0.proj.weight": "m-1.safetensors", "scale_shift_table": "m-1.safetensors",
                   "blocks.0.norm2.bias": "m-2.safetensors", "steps": "m-2.safetensors"}})");

  ASSERT_OK_AND_ASSIGN(const auto checkpoint, Checkpoint::Open(dir_, "diffusion_pytorch_model"));
  EXPECT_THAT(checkpoint->TensorNames(), ElementsAre("blocks.0.norm2.bias", "blocks.0.proj.weight",
                                                     "scale_shift_table", "steps"));
  LoadOptions options;
  options.dtype = at::kBFloat16;
  options.keep_in_fp32_modules = {"scale_shift_table", "norm2"};
  ASSERT_OK_AND_ASSIGN(const auto state,
                       checkpoint->LoadStateDict({{"blocks.0.proj.weight", {4, 3}},
                                                  {"scale_shift_table", {1, 2, 3}},
                                                  {"blocks.0.norm2.bias", {3}},
                                                  {"steps", {5}}},
                                                 options));
  EXPECT_EQ(state.at("blocks.0.proj.weight").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(state.at("blocks.0.proj.weight"), weight_.to(at::kBFloat16)));
  EXPECT_EQ(state.at("scale_shift_table").scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(state.at("scale_shift_table"), table_));
  EXPECT_TRUE(at::equal(state.at("blocks.0.norm2.bias"), norm_bias_));
  EXPECT_EQ(state.at("steps").scalar_type(), at::kLong);  // Integers keep their type.
  EXPECT_TRUE(at::equal(state.at("steps"), steps_));
}

TEST_F(CheckpointTest, SingleFileIsUsedWhenThereIsNoIndex) {
  ASSERT_THAT(WriteSafetensors(dir_ + "/model.safetensors", {{"w", weight_}}), IsOk());
  ASSERT_OK_AND_ASSIGN(const auto checkpoint, Checkpoint::Open(dir_, "model"));
  ASSERT_OK_AND_ASSIGN(const at::Tensor w, checkpoint->Load("w", at::kFloat));
  EXPECT_TRUE(at::equal(w, weight_));
  EXPECT_THAT(checkpoint->Load("v", at::kFloat), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CheckpointTest, MismatchesAreListedWithFileAndTensor) {
  ASSERT_THAT(
      WriteSafetensors(
          dir_ + "/model.safetensors",
          {{"w", weight_}, {"extra.weight", norm_bias_}, {"attn.norm_added_q.weight", norm_bias_}}),
      IsOk());
  ASSERT_OK_AND_ASSIGN(const auto checkpoint, Checkpoint::Open(dir_, "model"));
  LoadOptions options;
  options.ignore_unexpected = {"norm_added_q"};
  const auto state = checkpoint->LoadStateDict({{"w", {3, 4}}, {"b", {3}}}, options);
  EXPECT_THAT(state, StatusIs(absl::StatusCode::kInvalidArgument,
                              ::testing::AllOf(
                                  HasSubstr("3 problem(s)"), HasSubstr("missing \"b\" [3]"),
                                  HasSubstr("\"w\" in " + dir_ +
                                            "/model.safetensors has shape [4,3], expected [3,4]"),
                                  HasSubstr("unexpected \"extra.weight\""),
                                  ::testing::Not(HasSubstr("norm_added_q")))));
}

TEST_F(CheckpointTest, BrokenLayoutsAreClearErrors) {
  EXPECT_THAT(Checkpoint::Open(dir_, "model"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("neither model.safetensors")));

  WriteText("model.safetensors.index.json", R"({"weight_map": {"w": "absent.safetensors"}})");
  EXPECT_THAT(Checkpoint::Open(dir_, "model"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.safetensors")));

  WriteText("model.safetensors.index.json", R"({"weight_map": {"w": "../escape.safetensors"}})");
  EXPECT_THAT(Checkpoint::Open(dir_, "model"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a plain file name")));

  ASSERT_THAT(WriteSafetensors(dir_ + "/a.safetensors", {{"w", weight_}}), IsOk());
  ASSERT_THAT(WriteSafetensors(dir_ + "/b.safetensors", {{"w", weight_}, {"v", weight_}}), IsOk());
  WriteText("model.safetensors.index.json",
            R"({"weight_map": {"w": "a.safetensors", "v": "b.safetensors"}})");
  EXPECT_THAT(Checkpoint::Open(dir_, "model"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"w\" is in both")));

  WriteText("model.safetensors.index.json",
            R"({"weight_map": {"w": "a.safetensors", "x": "a.safetensors"}})");
  EXPECT_THAT(
      Checkpoint::Open(dir_, "model"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"x\" in a.safetensors, which lacks it")));

  WriteText("model.safetensors.index.json", R"({"weight_map": 3})");
  EXPECT_THAT(Checkpoint::Open(dir_, "model"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no \"weight_map\"")));
}

TEST(CheckpointTargetDTypeTest, MatchesWholeNameComponentsOnly) {
  LoadOptions options;
  options.dtype = at::kBFloat16;
  options.keep_in_fp32_modules = {"norm2", "time_embedder"};
  EXPECT_EQ(Checkpoint::TargetDType("blocks.3.norm2.weight", options), at::kFloat);
  EXPECT_EQ(Checkpoint::TargetDType("condition_embedder.time_embedder.linear_1.bias", options),
            at::kFloat);
  EXPECT_EQ(Checkpoint::TargetDType("blocks.3.norm2x.weight", options), at::kBFloat16);
  EXPECT_EQ(Checkpoint::TargetDType("blocks.3.attn1.to_q.weight", options), at::kBFloat16);
}

}  // namespace
}  // namespace videogen::engine
