// Policies by name: defaults, given settings, the Describe() round trip, and every error.
#include "engine/accel/policies.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::accel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

std::string Described(const std::string& spec) {
  absl::StatusOr<std::shared_ptr<const Policy>> policy = ParsePolicy(spec);
  EXPECT_TRUE(policy.ok()) << spec << ": " << policy.status();
  return policy.ok() ? (*policy)->Describe() : "";
}

TEST(PoliciesTest, NamesAloneGiveTheSeedsDefaults) {
  EXPECT_THAT(PolicyNames(), ElementsAre("pab", "toca", "delta_dit", "teacache"));
  EXPECT_EQ(Described("pab"), "pab(self=2,cross=6,untouched=0.15)");
  EXPECT_EQ(Described("toca"), "toca(interval=2,reuse=0.8)");
  EXPECT_EQ(Described("delta_dit"), "delta_dit(switch=25,interval=3,start=5,end=45,blocks=10)");
  EXPECT_EQ(Described("teacache"), "teacache(threshold=0.1,coefficients=[1,0])");
  EXPECT_EQ(Described("pab()"), Described("pab"));
}

TEST(PoliciesTest, GivenSettingsReplaceTheirDefaultsOnly) {
  EXPECT_EQ(Described("pab(self=5, cross=9)"), "pab(self=5,cross=9,untouched=0.15)");
  EXPECT_EQ(Described(" toca ( reuse = 0.85 ) "), "toca(interval=2,reuse=0.85)");
  EXPECT_EQ(Described("delta_dit(switch=10,interval=2,start=3,end=17,blocks=2)"),
            "delta_dit(switch=10,interval=2,start=3,end=17,blocks=2)");
  EXPECT_EQ(Described("teacache(threshold=0.2,coefficients=[2.5,-1,0.125])"),
            "teacache(threshold=0.2,coefficients=[2.5,-1,0.125])");
}

TEST(PoliciesTest, DescribeReadsBackToTheSamePolicy) {
  for (const std::string spec :
       {"pab(untouched=0.3333333333333333)", "toca(reuse=0.1)", "delta_dit(blocks=1)",
        "teacache(threshold=0.07,coefficients=[498.6,-283.7,55.8,-3.82,0.2648])"}) {
    const std::string described = Described(spec);
    EXPECT_EQ(Described(described), described) << spec;
  }
}

TEST(PoliciesTest, ErrorsNameTheProblem) {
  const struct {
    const char* spec;
    const char* message;
  } cases[] = {
      {"fastcache", "unknown acceleration 'fastcache'; known: pab, toca, delta_dit, teacache"},
      {"", "unknown acceleration ''"},
      {"pab(speed=2)", "acceleration pab: unknown setting(s) speed"},
      {"pab(self=2,self=3)", "setting 'self' is given twice"},
      {"pab(self=x)", "self=x is not an integer"},
      {"pab(self=2.5)", "self=2.5 is not an integer"},
      {"pab(self=2", "must end with ')'"},
      {"pab(self)", "'self' is not key=value"},
      {"pab(self=2,)", "'' is not key=value"},
      {"toca(reuse=inf)", "reuse=inf is not a finite number"},
      {"toca(reuse=1.5)", "1.5"},
      {"teacache(coefficients=1)", "coefficients=1 is not a bracketed list"},
      {"teacache(coefficients=[1,nan])", "'nan' is not a finite number"},
      {"teacache(coefficients=[[1]])", "unbalanced brackets"},
      {"teacache(coefficients=[1,0)", "unbalanced brackets"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(ParsePolicy(c.spec),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.spec;
  }
}

}  // namespace
}  // namespace videogen::engine::accel
