#include "engine/scheduler/flow_scheduler_config.h"

#include <limits>
#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::scheduler {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

// Wan2.1 T2V's scheduler/scheduler_config.json (wan21.md 2.5).
constexpr char kUniPc[] = R"({
  "_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.33.0.dev0",
  "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001, "disable_corrector": [],
  "dynamic_thresholding_ratio": 0.995, "final_sigmas_type": "zero", "flow_shift": 3.0,
  "lower_order_final": true, "num_train_timesteps": 1000, "predict_x0": true,
  "prediction_type": "flow_prediction", "rescale_betas_zero_snr": false, "sample_max_value": 1.0,
  "solver_order": 2, "solver_p": null, "solver_type": "bh2", "steps_offset": 0,
  "thresholding": false, "timestep_spacing": "linspace", "trained_betas": null,
  "use_beta_sigmas": false, "use_exponential_sigmas": false, "use_flow_sigmas": true,
  "use_karras_sigmas": false})";

// FlowMatchEulerDiscreteScheduler(shift=3.0).save_config() in diffusers 0.42.1.
constexpr char kEuler[] = R"({
  "_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.42.1",
  "base_image_seq_len": 256, "base_shift": 0.5, "invert_sigmas": false,
  "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0,
  "shift_terminal": null, "stochastic_sampling": false, "time_shift_type": "exponential",
  "use_beta_sigmas": false, "use_dynamic_shifting": false, "use_exponential_sigmas": false,
  "use_karras_sigmas": false})";

TEST(FlowSchedulerConfigTest, ParsesWanUniPcConfig) {
  ASSERT_OK_AND_ASSIGN(const FlowSchedulerConfig c, ParseFlowSchedulerConfig(kUniPc, "s.json"));
  EXPECT_TRUE(c.is_unipc());
  EXPECT_EQ(c.class_name, kUniPcClassName);
  EXPECT_EQ(c.num_train_timesteps, 1000);
  EXPECT_DOUBLE_EQ(c.shift, 3.0);
  EXPECT_EQ(c.solver_order, 2);
  EXPECT_EQ(c.solver_type, FlowSchedulerConfig::SolverType::kBh2);
  EXPECT_TRUE(c.lower_order_final);
  EXPECT_TRUE(c.disable_corrector.empty());
  EXPECT_EQ(c.final_sigmas_type, FlowSchedulerConfig::FinalSigma::kZero);
}

TEST(FlowSchedulerConfigTest, ParsesEulerConfig) {
  ASSERT_OK_AND_ASSIGN(const FlowSchedulerConfig c, ParseFlowSchedulerConfig(kEuler, "s.json"));
  EXPECT_FALSE(c.is_unipc());
  EXPECT_EQ(c.class_name, kFlowMatchEulerClassName);
  EXPECT_EQ(c.num_train_timesteps, 1000);
  EXPECT_DOUBLE_EQ(c.shift, 3.0);
}

TEST(FlowSchedulerConfigTest, MissingKeysTakeDiffusersDefaults) {
  ASSERT_OK_AND_ASSIGN(const FlowSchedulerConfig unipc,
                       ParseFlowSchedulerConfig(R"({"_class_name": "UniPCMultistepScheduler",
          "prediction_type": "flow_prediction", "use_flow_sigmas": true})",
                                                "s.json"));
  EXPECT_DOUBLE_EQ(unipc.shift, 1.0);
  EXPECT_EQ(unipc.solver_order, 2);
  EXPECT_EQ(unipc.num_train_timesteps, 1000);
  ASSERT_OK_AND_ASSIGN(
      const FlowSchedulerConfig euler,
      ParseFlowSchedulerConfig(R"({"_class_name": "FlowMatchEulerDiscreteScheduler"})", "s.json"));
  EXPECT_DOUBLE_EQ(euler.shift, 1.0);
  // A UniPC file without prediction_type is an epsilon-prediction scheduler.
  EXPECT_THAT(ParseFlowSchedulerConfig(R"({"_class_name": "UniPCMultistepScheduler"})", "s.json"),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("prediction_type")));
}

TEST(FlowSchedulerConfigTest, ReadsOptionalUniPcSettings) {
  const std::string text = absl::StrReplaceAll(
      kUniPc, {{R"("disable_corrector": [])", R"("disable_corrector": [0, 3])"},
               {R"("solver_type": "bh2")", R"("solver_type": "bh1")"},
               {R"("solver_order": 2)", R"("solver_order": 3)"},
               {R"("flow_shift": 3.0)", R"("flow_shift": 5)"},
               {R"("final_sigmas_type": "zero")", R"("final_sigmas_type": "sigma_min")"}});
  ASSERT_OK_AND_ASSIGN(const FlowSchedulerConfig c, ParseFlowSchedulerConfig(text, "s.json"));
  EXPECT_THAT(c.disable_corrector, ElementsAre(0, 3));
  EXPECT_EQ(c.solver_type, FlowSchedulerConfig::SolverType::kBh1);
  EXPECT_EQ(c.solver_order, 3);
  EXPECT_DOUBLE_EQ(c.shift, 5.0);
  EXPECT_EQ(c.final_sigmas_type, FlowSchedulerConfig::FinalSigma::kSigmaMin);
  // diffusers reads the UniPC paper's other solver names as bh2.
  ASSERT_OK_AND_ASSIGN(
      const FlowSchedulerConfig heun,
      ParseFlowSchedulerConfig(
          absl::StrReplaceAll(kUniPc, {{R"("solver_type": "bh2")", R"("solver_type": "heun")"}}),
          "s.json"));
  EXPECT_EQ(heun.solver_type, FlowSchedulerConfig::SolverType::kBh2);
}

struct BadCase {
  const char* base;  // kUniPc or kEuler.
  std::string from, to;
  absl::StatusCode code;
  std::string message;
};

TEST(FlowSchedulerConfigTest, RejectsBadAndUnsupportedFields) {
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  constexpr auto kUnimplemented = absl::StatusCode::kUnimplemented;
  const BadCase cases[] = {
      // Syntax and structure.
      {kUniPc, R"("solver_order": 2)", R"("solver_order": 2, "solver_order": 1)", kInvalid,
       "repeats the key"},
      {kUniPc, R"("steps_offset": 0,)", R"("steps_offset": 0,,)", kInvalid, "not valid JSON"},
      {kUniPc, R"("steps_offset": 0)", R"("steps_offset": 0, "rope": 1)", kInvalid,
       "unknown field \"rope\""},
      {kEuler, R"("shift": 3.0)", R"("shift": 3.0, "flow_shift": 3.0)", kInvalid,
       "unknown field \"flow_shift\""},
      {kUniPc, R"("_class_name": "UniPCMultistepScheduler")",
       R"("_class_name": "DPMSolverMultistepScheduler")", kUnimplemented,
       "_class_name = \"DPMSolverMultistepScheduler\""},
      {kUniPc, R"("_class_name": "UniPCMultistepScheduler")", R"("_class_name": 7)", kInvalid,
       "_class_name must be a string"},
      // Ill-typed or out-of-range values.
      {kUniPc, R"("num_train_timesteps": 1000)", R"("num_train_timesteps": 0)", kInvalid,
       "num_train_timesteps = 0"},
      {kUniPc, R"("num_train_timesteps": 1000)", R"("num_train_timesteps": 1000.5)", kInvalid,
       "num_train_timesteps = 1000.5 must be an integer"},
      {kUniPc, R"("flow_shift": 3.0)", R"("flow_shift": "3")", kInvalid,
       "flow_shift = \"3\" must be a number"},
      {kUniPc, R"("flow_shift": 3.0)", R"("flow_shift": -1.0)", kInvalid, "flow_shift = -1"},
      {kEuler, R"("shift": 3.0)", R"("shift": 0)", kInvalid, "shift = 0 must be"},
      {kUniPc, R"("solver_order": 2)", R"("solver_order": 0)", kInvalid, "solver_order = 0"},
      {kUniPc, R"("solver_order": 2)", R"("solver_order": 4)", kUnimplemented, "solver_order = 4"},
      {kUniPc, R"("solver_type": "bh2")", R"("solver_type": "bh3")", kInvalid,
       "solver_type = \"bh3\" must be one of"},
      {kUniPc, R"("final_sigmas_type": "zero")", R"("final_sigmas_type": "max")", kInvalid,
       "final_sigmas_type"},
      {kUniPc, R"("lower_order_final": true)", R"("lower_order_final": 1)", kInvalid,
       "lower_order_final = 1 must be true or false"},
      {kUniPc, R"("lower_order_final": true)", R"("lower_order_final": false)", kInvalid,
       "lower_order_final = false"},
      {kUniPc, R"("disable_corrector": [])", R"("disable_corrector": [1.5])", kInvalid,
       "disable_corrector"},
      {kUniPc, R"("solver_type": "bh2")", R"("solver_type": "bh1")", kInvalid,
       "solver_type \"bh1\" with final_sigmas_type \"zero\""},
      {kUniPc, R"("predict_x0": true)", R"("predict_x0": false)", kInvalid, "predict_x0"},
      {kUniPc, R"("beta_schedule": "linear")", R"("beta_schedule": "cosine")", kInvalid,
       "beta_schedule"},
      {kUniPc, R"("timestep_spacing": "linspace")", R"("timestep_spacing": "even")", kInvalid,
       "timestep_spacing"},
      {kUniPc, R"("trained_betas": null)", R"("trained_betas": "x")", kInvalid, "trained_betas"},
      {kEuler, R"("time_shift_type": "exponential")", R"("time_shift_type": "log")", kInvalid,
       "time_shift_type"},
      {kEuler, R"("base_shift": 0.5)", R"("base_shift": "0.5")", kInvalid, "base_shift"},
      // Settings that change results and are not implemented.
      {kUniPc, R"("prediction_type": "flow_prediction")", R"("prediction_type": "epsilon")",
       kUnimplemented, "prediction_type = \"epsilon\""},
      {kUniPc, R"("prediction_type": "flow_prediction")", R"("prediction_type": "flow")", kInvalid,
       "prediction_type = \"flow\" must be one of"},
      {kUniPc, R"("use_flow_sigmas": true)", R"("use_flow_sigmas": false)", kUnimplemented,
       "use_flow_sigmas"},
      {kUniPc, R"("use_karras_sigmas": false)", R"("use_karras_sigmas": true)", kUnimplemented,
       "use_karras_sigmas"},
      {kUniPc, R"("use_beta_sigmas": false)", R"("use_beta_sigmas": true)", kUnimplemented,
       "use_beta_sigmas"},
      {kUniPc, R"("thresholding": false)", R"("thresholding": true)", kUnimplemented,
       "thresholding"},
      {kUniPc, R"("solver_p": null)", R"("solver_p": {})", kUnimplemented, "solver_p"},
      {kUniPc, R"("steps_offset": 0)", R"("steps_offset": 0, "use_dynamic_shifting": true)",
       kUnimplemented, "use_dynamic_shifting"},
      {kUniPc, R"("steps_offset": 0)", R"("steps_offset": 0, "shift_terminal": 0.1)",
       kUnimplemented, "shift_terminal"},
      {kEuler, R"("use_dynamic_shifting": false)", R"("use_dynamic_shifting": true)",
       kUnimplemented, "use_dynamic_shifting"},
      {kEuler, R"("invert_sigmas": false)", R"("invert_sigmas": true)", kUnimplemented,
       "invert_sigmas"},
      {kEuler, R"("stochastic_sampling": false)", R"("stochastic_sampling": true)", kUnimplemented,
       "stochastic_sampling"},
      {kEuler, R"("shift_terminal": null)", R"("shift_terminal": 0.02)", kUnimplemented,
       "shift_terminal"},
      {kEuler, R"("use_exponential_sigmas": false)", R"("use_exponential_sigmas": true)",
       kUnimplemented, "use_exponential_sigmas"},
  };
  for (const BadCase& c : cases) {
    const std::string text = absl::StrReplaceAll(c.base, {{c.from, c.to}});
    ASSERT_NE(text, c.base) << c.from;
    EXPECT_THAT(
        ParseFlowSchedulerConfig(text, "sch/scheduler_config.json"),
        StatusIs(c.code, AllOf(HasSubstr("sch/scheduler_config.json: "), HasSubstr(c.message))))
        << c.to;
  }
}

TEST(FlowSchedulerConfigTest, AcceptsSettingsWithoutEffectInFlowMode) {
  // shift_terminal 0 is off (diffusers tests truthiness); betas and the discrete grid settings are
  // unused with flow sigmas.
  const std::string text = absl::StrReplaceAll(
      kUniPc, {{R"("beta_schedule": "linear")", R"("beta_schedule": "scaled_linear")"},
               {R"("timestep_spacing": "linspace")", R"("timestep_spacing": "trailing")"},
               {R"("trained_betas": null)", R"("trained_betas": [0.1, 0.2])"},
               {R"("steps_offset": 0)", R"("steps_offset": 1, "shift_terminal": 0.0)"}});
  EXPECT_OK(ParseFlowSchedulerConfig(text, "s.json"));
  // Orders 1 and lower_order_final = false are fine together (no second-order last step).
  EXPECT_OK(ParseFlowSchedulerConfig(
      absl::StrReplaceAll(kUniPc,
                          {{R"("solver_order": 2)", R"("solver_order": 1)"},
                           {R"("lower_order_final": true)", R"("lower_order_final": false)"}}),
      "s.json"));
}

TEST(FlowSchedulerConfigTest, ValidatesConfigsBuiltInCode) {
  FlowSchedulerConfig config;
  config.class_name = "EulerDiscreteScheduler";
  EXPECT_THAT(ValidateFlowSchedulerConfig(config),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("_class_name")));
  config.class_name = kFlowMatchEulerClassName;
  config.shift = std::numeric_limits<double>::infinity();
  EXPECT_THAT(ValidateFlowSchedulerConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shift = inf")));
  config.shift = 3.0;
  EXPECT_OK(ValidateFlowSchedulerConfig(config));
}

TEST(FlowSchedulerConfigTest, LoadsTheGoldenConfigFiles) {
  ASSERT_OK_AND_ASSIGN(const FlowSchedulerConfig unipc,
                       LoadFlowSchedulerConfig(
                           RunfilePath("tests/golden/wan_tiny/scheduler/scheduler_config.json")));
  EXPECT_TRUE(unipc.is_unipc());
  EXPECT_DOUBLE_EQ(unipc.shift, 3.0);
  ASSERT_OK_AND_ASSIGN(const FlowSchedulerConfig euler,
                       LoadFlowSchedulerConfig(RunfilePath(
                           "tests/golden/wan_tiny/scheduler_cases/euler/scheduler_config.json")));
  EXPECT_FALSE(euler.is_unipc());
  EXPECT_THAT(LoadFlowSchedulerConfig("/nonexistent/scheduler_config.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent")));
}

}  // namespace
}  // namespace videogen::engine::scheduler
