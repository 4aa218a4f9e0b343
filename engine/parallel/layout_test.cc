#include "engine/parallel/layout.h"

#include <set>
#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::parallel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

TEST(ParallelLayoutTest, ParsesAndPrints) {
  ASSERT_OK_AND_ASSIGN(const ParallelLayout layout, ParseParallelLayout("ring2xcfg2xulysses3"));
  EXPECT_EQ(layout, (ParallelLayout{2, 3, 2}));
  EXPECT_EQ(layout.world_size(), 12);
  EXPECT_EQ(layout.sequence_size(), 6);
  EXPECT_EQ(layout.ToString(), "cfg2xulysses3xring2");
  ASSERT_OK_AND_ASSIGN(const ParallelLayout round_trip, ParseParallelLayout(layout.ToString()));
  EXPECT_EQ(round_trip, layout);
  ASSERT_OK_AND_ASSIGN(const ParallelLayout single, ParseParallelLayout(""));
  EXPECT_EQ(single, (ParallelLayout{1, 1, 1}));
  ASSERT_OK_AND_ASSIGN(const ParallelLayout ulysses, ParseParallelLayout("ulysses4"));
  EXPECT_EQ(ulysses, (ParallelLayout{1, 4, 1}));
}

TEST(ParallelLayoutTest, RejectsMalformedText) {
  for (const char* text : {"cfg", "cfg0", "ulysses-2", "tensor2", "cfg2x", "ring2.5"}) {
    EXPECT_THAT(ParseParallelLayout(text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not cfg<N>")))
        << text;
  }
}

TEST(ParallelLayoutTest, ValidatesAgainstTheModel) {
  EXPECT_OK(ValidateLayout({2, 4, 1}, 12, /*guided=*/true));
  EXPECT_OK(ValidateLayout({1, 4, 2}, 12, /*guided=*/true));
  EXPECT_OK(ValidateLayout({1, 1, 5}, 12, /*guided=*/false));  // A ring takes any degree.
  EXPECT_THAT(
      ValidateLayout({1, 5, 1}, 12, true),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must divide the model's 12")));
  EXPECT_THAT(ValidateLayout({1, 8, 1}, 12, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ring degree for the rest")));
  EXPECT_THAT(ValidateLayout({2, 1, 1}, 12, /*guided=*/false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one branch")));
  EXPECT_THAT(ValidateLayout({4, 1, 1}, 12, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cfg must be 1 or 2")));
  EXPECT_THAT(ValidateLayout({1, 0, 1}, 12, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(">= 1")));
}

TEST(ParallelLayoutTest, CandidatesAreValidAndCoverTheWorld) {
  for (int world = 1; world <= 8; ++world) {
    for (bool guided : {false, true}) {
      const std::vector<ParallelLayout> layouts = CandidateLayouts(world, 12, guided);
      ASSERT_FALSE(layouts.empty()) << world;  // Ring always completes a layout.
      std::set<std::string> distinct;
      for (const ParallelLayout& layout : layouts) {
        EXPECT_EQ(layout.world_size(), world);
        EXPECT_OK(ValidateLayout(layout, 12, guided));
        distinct.insert(layout.ToString());
      }
      EXPECT_EQ(distinct.size(), layouts.size());
    }
  }
}

TEST(ParallelLayoutTest, ChoosesCfgThenUlyssesThenRing) {
  // Wan2.1-1.3B: 12 heads.
  EXPECT_THAT(ChooseLayout(8, 12, true), IsOkAndHolds(ParallelLayout{2, 4, 1}));
  EXPECT_THAT(ChooseLayout(8, 12, false), IsOkAndHolds(ParallelLayout{1, 4, 2}));
  EXPECT_THAT(ChooseLayout(2, 12, true), IsOkAndHolds(ParallelLayout{2, 1, 1}));
  EXPECT_THAT(ChooseLayout(6, 12, true), IsOkAndHolds(ParallelLayout{2, 3, 1}));
  EXPECT_THAT(ChooseLayout(5, 12, true), IsOkAndHolds(ParallelLayout{1, 1, 5}));
  EXPECT_THAT(ChooseLayout(0, 12, true), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParallelLayoutTest, CoordinatesAreDistinctAndUlyssesGroupsAreConsecutive) {
  const ParallelLayout layout{2, 2, 2};
  std::set<int> shards;
  std::set<std::tuple<int, int, int>> distinct;
  for (int rank = 0; rank < layout.world_size(); ++rank) {
    const RankCoordinates c = CoordinatesOf(layout, rank);
    EXPECT_EQ((c.cfg * layout.ring + c.ring) * layout.ulysses + c.ulysses, rank);
    distinct.insert({c.cfg, c.ring, c.ulysses});
    if (c.cfg == 0) shards.insert(c.shard(layout));
  }
  EXPECT_EQ(distinct.size(), 8u);
  EXPECT_THAT(shards, ElementsAre(0, 1, 2, 3));
  const RankCoordinates c5 = CoordinatesOf(layout, 5);
  EXPECT_EQ(c5.cfg, 1);
  EXPECT_EQ(c5.ring, 0);
  EXPECT_EQ(c5.ulysses, 1);
}

}  // namespace
}  // namespace videogen::engine::parallel
