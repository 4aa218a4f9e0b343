// PAB on the tiny golden Wan transformer: ranges of 1 are the dense model bit for bit; the seed's
// settings broadcast exactly the steps the schedule says, with the FLOPs and cache that implies.
#include "engine/accel/pab.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "engine/accel/policy_test_util.h"
#include "engine/accel/work.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::accel {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RelativeError;
using ::videogen::testing::StatusIs;

class PabPolicyTest : public testing::TinyWanTest {
 protected:
  // Valid settings only: an error throws absl::BadStatusOrAccess, which fails the test.
  std::unique_ptr<PabPolicy> Pab(const PabOptions& options) {
    return PabPolicy::Create(options).value();
  }
};

// Each branch's schedule as a string, '1' where the step computes it.
struct Pattern {
  std::string self_attention, cross_attention;
};
Pattern PatternOf(const std::vector<PabPolicy::StepPlan>& schedule) {
  Pattern pattern;
  for (const PabPolicy::StepPlan& plan : schedule) {
    pattern.self_attention += plan.self_attention ? '1' : '0';
    pattern.cross_attention += plan.cross_attention ? '1' : '0';
  }
  return pattern;
}

TEST_F(PabPolicyTest, RangesOfOneAreTheDenseModelExactly) {
  for (const double untouched : {0.0, 0.15}) {
    SCOPED_TRACE(::testing::Message() << "untouched " << untouched);
    const std::vector<Step> steps = Trajectory(*Pab({1, 1, untouched}), 6);
    for (int step = 0; step < 6; ++step) {
      EXPECT_TRUE(at::equal(steps[step].output, steps[step].dense)) << "step " << step;
      EXPECT_DOUBLE_EQ(steps[step].flops, DenseFlops());
      EXPECT_EQ(steps[step].cache_bytes, 0);  // Nothing is ever broadcast.
    }
  }
}

TEST_F(PabPolicyTest, SchedulesOfTheSeedsSettingsOnTwentySteps) {
  // 3 untouched steps at each end (ceil(0.15 · 20)); in between self-attention every 2nd step
  // and cross-attention every 6th counted from step 2, the last untouched step in front.
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> pab26, Pab({2, 6})->Schedule(20));
  EXPECT_EQ(PatternOf(pab26).self_attention,
            "111"
            "01010101010101"
            "111");
  EXPECT_EQ(PatternOf(pab26).cross_attention,
            "111"
            "00000100000100"
            "111");
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> pab59, Pab({5, 9})->Schedule(20));
  EXPECT_EQ(PatternOf(pab59).self_attention,
            "111"
            "00001000010000"
            "111");
  EXPECT_EQ(PatternOf(pab59).cross_attention,
            "111"
            "00000000100000"
            "111");
}

TEST_F(PabPolicyTest, UntouchedStepsRoundUpAndStepZeroIsAlwaysComputed) {
  // ceil(0.15 · 50) = 8 at each end; the 34 steps between alternate.
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> fifty, Pab({2, 6})->Schedule(50));
  std::string alternating;
  for (int i = 0; i < 17; ++i) alternating += "01";
  EXPECT_EQ(PatternOf(fifty).self_attention,
            std::string(8, '1') + alternating + std::string(8, '1'));
  // No untouched steps: step 0 still computes both (nothing is cached before it).
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> none, Pab({2, 3, 0.0})->Schedule(7));
  EXPECT_EQ(PatternOf(none).self_attention, "1010101");
  EXPECT_EQ(PatternOf(none).cross_attention, "1001001");
  // Half of the steps at each end: every step is computed.
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> all, Pab({2, 6, 0.5})->Schedule(7));
  EXPECT_EQ(PatternOf(all).self_attention, "1111111");
  EXPECT_EQ(PatternOf(all).cross_attention, "1111111");
}

TEST_F(PabPolicyTest, BroadcastStepsFollowTheScheduleInOutputFlopsAndCache) {
  constexpr int kSteps = 20;
  const auto pab = Pab({2, 6});
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> schedule, pab->Schedule(kSteps));
  const std::vector<Step> steps = Trajectory(*pab, kSteps);
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const PabPolicy::StepPlan& plan = schedule[step];
    // A step that computes both branches is the dense block whatever came before; a broadcast
    // one uses an earlier step's output.
    if (plan.self_attention && plan.cross_attention) {
      EXPECT_TRUE(at::equal(steps[step].output, steps[step].dense));
    } else {
      const double error = RelativeError(steps[step].output, steps[step].dense);
      EXPECT_GT(error, 0.0);
      EXPECT_LT(error, 0.5);
    }
    const int64_t self = plan.self_attention ? kTinyTokens : 0;
    EXPECT_DOUBLE_EQ(
        steps[step].flops,
        ForwardFlops({self, self, plan.cross_attention ? kTinyTokens : 0, kTinyTokens}));
    // The run holds a branch's output exactly while the next step broadcasts it.
    const bool next = step + 1 < kSteps;
    const int kept = (next && !schedule[step + 1].self_attention ? 1 : 0) +
                     (next && !schedule[step + 1].cross_attention ? 1 : 0);
    EXPECT_EQ(steps[step].cache_bytes, CachedBranchBytes(kept));
  }
}

TEST_F(PabPolicyTest, EachBranchIsBroadcastOnItsOwnSchedule) {
  // (1, 6) computes the self-attention at every step and (2, 1) the cross-attention, each with
  // the other branch on (2, 6)'s schedule: a (2, 6) step equals the first exactly where it
  // computes its self-attention, and the second where it computes its cross-attention.
  constexpr int kSteps = 20;
  ASSERT_OK_AND_ASSIGN(const std::vector<PabPolicy::StepPlan> schedule,
                       Pab({2, 6})->Schedule(kSteps));
  const std::vector<Step> pab26 = Trajectory(*Pab({2, 6}), kSteps);
  const std::vector<Step> pab16 = Trajectory(*Pab({1, 6}), kSteps);
  const std::vector<Step> pab21 = Trajectory(*Pab({2, 1}), kSteps);
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    EXPECT_EQ(at::equal(pab26[step].output, pab16[step].output), schedule[step].self_attention);
    EXPECT_EQ(at::equal(pab26[step].output, pab21[step].output), schedule[step].cross_attention);
  }
}

TEST_F(PabPolicyTest, DescribesItsSettings) {
  EXPECT_EQ(Pab({})->Describe(), "pab(self=2,cross=6,untouched=0.15)");
  EXPECT_EQ(Pab({5, 9, 0.1})->Describe(), "pab(self=5,cross=9,untouched=0.1)");
  // Numbers read back exactly: 1/3 keeps all 16 digits (not StrCat's 6).
  EXPECT_EQ(Pab({1, 1, 1.0 / 3})->Describe(), "pab(self=1,cross=1,untouched=0.3333333333333333)");
}

TEST_F(PabPolicyTest, RejectsInvalidOptions) {
  EXPECT_THAT(PabPolicy::Create({0, 6}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("self_attention_range 0")));
  EXPECT_THAT(PabPolicy::Create({2, -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cross_attention_range -1")));
  for (const double fraction : {-0.1, 0.6, std::nan("")}) {
    EXPECT_THAT(PabPolicy::Create({2, 6, fraction}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("untouched_fraction")));
  }
  EXPECT_THAT(Pab({})->Schedule(0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PabPolicyTest, RunRejectsMisuse) { ExpectRunRejectsMisuse(*Pab({})); }

}  // namespace
}  // namespace videogen::engine::accel
