#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/common/file.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::scheduler {
namespace {

using Json = nlohmann::json;

// The keyword arguments of the diffusers 0.42.1 constructors: every key a saved config may hold.
constexpr const char* kUniPcKeys[] = {"num_train_timesteps",
                                      "beta_start",
                                      "beta_end",
                                      "beta_schedule",
                                      "trained_betas",
                                      "solver_order",
                                      "prediction_type",
                                      "thresholding",
                                      "dynamic_thresholding_ratio",
                                      "sample_max_value",
                                      "predict_x0",
                                      "solver_type",
                                      "lower_order_final",
                                      "disable_corrector",
                                      "solver_p",
                                      "use_karras_sigmas",
                                      "use_exponential_sigmas",
                                      "use_beta_sigmas",
                                      "use_flow_sigmas",
                                      "flow_shift",
                                      "timestep_spacing",
                                      "steps_offset",
                                      "final_sigmas_type",
                                      "rescale_betas_zero_snr",
                                      "use_dynamic_shifting",
                                      "time_shift_type",
                                      "sigma_min",
                                      "sigma_max",
                                      "shift_terminal"};
constexpr const char* kFlowMatchEulerKeys[] = {"num_train_timesteps",
                                               "shift",
                                               "use_dynamic_shifting",
                                               "base_shift",
                                               "max_shift",
                                               "base_image_seq_len",
                                               "max_image_seq_len",
                                               "invert_sigmas",
                                               "shift_terminal",
                                               "use_karras_sigmas",
                                               "use_exponential_sigmas",
                                               "use_beta_sigmas",
                                               "time_shift_type",
                                               "stochastic_sampling"};

// Typed access to one JSON object; an absent key leaves the output at its default.
class Reader {
 public:
  explicit Reader(const Json& json) : json_(json) {}

  absl::Status Int(const char* key, int64_t* out) const {
    const Json* value = Find(key);
    if (value == nullptr) return absl::OkStatus();
    if (!value->is_number_integer()) return Error(key, *value, "must be an integer");
    *out = value->get<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Double(const char* key, double* out) const {
    const Json* value = Find(key);
    if (value == nullptr) return absl::OkStatus();
    if (!value->is_number()) return Error(key, *value, "must be a number");
    *out = value->get<double>();
    return absl::OkStatus();
  }
  absl::Status Bool(const char* key, bool* out) const {
    const Json* value = Find(key);
    if (value == nullptr) return absl::OkStatus();
    if (!value->is_boolean()) return Error(key, *value, "must be true or false");
    *out = value->get<bool>();
    return absl::OkStatus();
  }
  // A string that must be one of `allowed`; `*out` keeps `fallback` when absent.
  absl::Status Enum(const char* key, std::initializer_list<const char*> allowed,
                    const char* fallback, std::string* out) const {
    *out = fallback;
    const Json* value = Find(key);
    if (value == nullptr) return absl::OkStatus();
    if (!value->is_string() || std::none_of(allowed.begin(), allowed.end(), [&](const char* a) {
          return value->get<std::string>() == a;
        })) {
      return Error(key, *value,
                   absl::StrCat("must be one of \"", absl::StrJoin(allowed, "\", \""), "\""));
    }
    *out = value->get<std::string>();
    return absl::OkStatus();
  }
  // Null or a number (diffusers' Optional[float]).
  absl::Status OptionalNumber(const char* key) const {
    const Json* value = Find(key);
    if (value == nullptr || value->is_null() || value->is_number()) return absl::OkStatus();
    return Error(key, *value, "must be null or a number");
  }
  // A boolean that changes results when true and is not implemented.
  absl::Status FalseOnly(const char* key) const {
    bool flag = false;
    VG_RETURN_IF_ERROR(Bool(key, &flag));
    if (flag) return Unimplemented(key, *Find(key));
    return absl::OkStatus();
  }
  // A setting that changes results unless null (or, where diffusers tests truthiness, 0).
  absl::Status NullOnly(const char* key, bool zero_is_off) const {
    const Json* value = Find(key);
    if (value == nullptr || value->is_null()) return absl::OkStatus();
    if (zero_is_off && value->is_number() && value->get<double>() == 0) return absl::OkStatus();
    return Unimplemented(key, *value);
  }

  static absl::Status Error(absl::string_view key, const Json& value, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(key, " = ", value.dump(), " ", what));
  }
  static absl::Status Unimplemented(absl::string_view key, const Json& value) {
    return absl::UnimplementedError(absl::StrCat(key, " = ", value.dump(), " is not supported"));
  }

 private:
  const Json* Find(const char* key) const {
    const auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }
  const Json& json_;
};

// Settings of both classes that exist only to be rejected or ignored.
absl::Status ReadCommon(const Reader& reader) {
  for (const char* key :
       {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_dynamic_shifting"}) {
    VG_RETURN_IF_ERROR(reader.FalseOnly(key));
  }
  // diffusers applies the terminal stretch when shift_terminal is truthy.
  VG_RETURN_IF_ERROR(reader.NullOnly("shift_terminal", /*zero_is_off=*/true));
  std::string ignored;
  // Only used with dynamic shifting; diffusers still checks the value.
  return reader.Enum("time_shift_type", {"exponential", "linear"}, "exponential", &ignored);
}

absl::Status ReadUniPc(const Json& json, FlowSchedulerConfig* config) {
  const Reader reader(json);
  VG_RETURN_IF_ERROR(reader.Int("num_train_timesteps", &config->num_train_timesteps));
  VG_RETURN_IF_ERROR(reader.Double("flow_shift", &config->shift));
  VG_RETURN_IF_ERROR(reader.Int("solver_order", &config->solver_order));
  VG_RETURN_IF_ERROR(reader.Bool("lower_order_final", &config->lower_order_final));

  std::string text;
  VG_RETURN_IF_ERROR(reader.Enum("prediction_type",
                                 {"epsilon", "sample", "v_prediction", "flow_prediction"},
                                 "epsilon", &text));
  if (text != "flow_prediction") {
    return absl::UnimplementedError(absl::StrCat("prediction_type = \"", text,
                                                 "\" is not supported (only \"flow_prediction\")"));
  }
  bool use_flow_sigmas = false;
  VG_RETURN_IF_ERROR(reader.Bool("use_flow_sigmas", &use_flow_sigmas));
  if (!use_flow_sigmas) {
    return absl::UnimplementedError(
        "use_flow_sigmas = false is not supported (only flow sigmas with flow_prediction)");
  }
  bool predict_x0 = true;
  VG_RETURN_IF_ERROR(reader.Bool("predict_x0", &predict_x0));
  if (!predict_x0) {
    // diffusers raises for flow_prediction without predict_x0.
    return absl::InvalidArgumentError("predict_x0 = false is invalid with flow_prediction");
  }
  // diffusers maps the other solver names of the UniPC paper to bh2.
  VG_RETURN_IF_ERROR(
      reader.Enum("solver_type", {"bh1", "bh2", "midpoint", "heun", "logrho"}, "bh2", &text));
  config->solver_type =
      text == "bh1" ? FlowSchedulerConfig::SolverType::kBh1 : FlowSchedulerConfig::SolverType::kBh2;
  VG_RETURN_IF_ERROR(reader.Enum("final_sigmas_type", {"zero", "sigma_min"}, "zero", &text));
  config->final_sigmas_type = text == "zero" ? FlowSchedulerConfig::FinalSigma::kZero
                                             : FlowSchedulerConfig::FinalSigma::kSigmaMin;

  config->disable_corrector.clear();
  if (const auto it = json.find("disable_corrector"); it != json.end()) {
    if (!it->is_array() ||
        !std::all_of(it->begin(), it->end(), [](const Json& v) { return v.is_number_integer(); })) {
      return Reader::Error("disable_corrector", *it, "must be a list of integers");
    }
    for (const Json& v : *it) config->disable_corrector.push_back(v.get<int64_t>());
  }

  VG_RETURN_IF_ERROR(reader.FalseOnly("thresholding"));
  VG_RETURN_IF_ERROR(reader.NullOnly("solver_p", /*zero_is_off=*/false));
  VG_RETURN_IF_ERROR(ReadCommon(reader));

  // Without effect in flow mode (betas, the discrete timestep grid, thresholding bounds, the
  // Karras/exponential/beta ranges), but checked as far as diffusers checks them.
  VG_RETURN_IF_ERROR(reader.Enum("beta_schedule", {"linear", "scaled_linear", "squaredcos_cap_v2"},
                                 "linear", &text));
  VG_RETURN_IF_ERROR(
      reader.Enum("timestep_spacing", {"linspace", "leading", "trailing"}, "linspace", &text));
  for (const char* key : {"beta_start", "beta_end", "dynamic_thresholding_ratio",
                          "sample_max_value", "sigma_min", "sigma_max"}) {
    VG_RETURN_IF_ERROR(reader.OptionalNumber(key));
  }
  int64_t steps_offset = 0;
  VG_RETURN_IF_ERROR(reader.Int("steps_offset", &steps_offset));
  bool rescale = false;
  VG_RETURN_IF_ERROR(reader.Bool("rescale_betas_zero_snr", &rescale));
  if (const auto it = json.find("trained_betas"); it != json.end() && !it->is_null()) {
    if (!it->is_array() ||
        !std::all_of(it->begin(), it->end(), [](const Json& v) { return v.is_number(); })) {
      return Reader::Error("trained_betas", *it, "must be null or a list of numbers");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadFlowMatchEuler(const Json& json, FlowSchedulerConfig* config) {
  const Reader reader(json);
  VG_RETURN_IF_ERROR(reader.Int("num_train_timesteps", &config->num_train_timesteps));
  VG_RETURN_IF_ERROR(reader.Double("shift", &config->shift));
  VG_RETURN_IF_ERROR(reader.FalseOnly("invert_sigmas"));
  VG_RETURN_IF_ERROR(reader.FalseOnly("stochastic_sampling"));
  VG_RETURN_IF_ERROR(ReadCommon(reader));
  // Dynamic-shifting parameters, without effect when it is off.
  VG_RETURN_IF_ERROR(reader.OptionalNumber("base_shift"));
  VG_RETURN_IF_ERROR(reader.OptionalNumber("max_shift"));
  int64_t ignored = 0;
  VG_RETURN_IF_ERROR(reader.Int("base_image_seq_len", &ignored));
  return reader.Int("max_image_seq_len", &ignored);
}

absl::Status WithSource(const absl::Status& status, absl::string_view source) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
}

}  // namespace

absl::Status ValidateFlowSchedulerConfig(const FlowSchedulerConfig& config) {
  if (config.class_name != kUniPcClassName && config.class_name != kFlowMatchEulerClassName) {
    return absl::UnimplementedError(absl::StrCat("_class_name = \"", config.class_name,
                                                 "\" is not supported (only ", kUniPcClassName,
                                                 " and ", kFlowMatchEulerClassName, ")"));
  }
  if (config.num_train_timesteps < 1 || config.num_train_timesteps > 1000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_train_timesteps = ", config.num_train_timesteps, " is outside [1, 1000000]"));
  }
  const char* shift_key = config.is_unipc() ? "flow_shift" : "shift";
  if (!std::isfinite(config.shift) || !(config.shift > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(shift_key, " = ", config.shift, " must be a finite number > 0"));
  }
  if (!config.is_unipc()) return absl::OkStatus();
  if (config.solver_order < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("solver_order = ", config.solver_order, " must be >= 1"));
  }
  if (config.solver_order > 3) {
    return absl::UnimplementedError(
        absl::StrCat("solver_order = ", config.solver_order, " is not supported (1..3)"));
  }
  if (!config.lower_order_final && config.solver_order >= 2 &&
      config.final_sigmas_type == FlowSchedulerConfig::FinalSigma::kZero) {
    return absl::InvalidArgumentError(
        "lower_order_final = false with final_sigmas_type \"zero\" and solver_order >= 2: the "
        "last step would divide by a zero step size (diffusers returns inf/NaN)");
  }
  if (config.solver_type == FlowSchedulerConfig::SolverType::kBh1 &&
      config.final_sigmas_type == FlowSchedulerConfig::FinalSigma::kZero) {
    return absl::InvalidArgumentError(
        "solver_type \"bh1\" with final_sigmas_type \"zero\": the last step would multiply "
        "B(h) = -inf by 0 (diffusers returns NaN)");
  }
  return absl::OkStatus();
}

absl::StatusOr<FlowSchedulerConfig> ParseFlowSchedulerConfig(absl::string_view text,
                                                             absl::string_view source) {
  absl::StatusOr<Json> json = ParseStrictJson(text);
  if (!json.ok()) return WithSource(json.status(), source);
  if (!json->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not an object"));
  }
  const auto class_name = json->find("_class_name");
  if (class_name == json->end() || !class_name->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": _class_name must be a string"));
  }
  FlowSchedulerConfig config;
  config.class_name = class_name->get<std::string>();
  if (config.class_name != kUniPcClassName && config.class_name != kFlowMatchEulerClassName) {
    return WithSource(ValidateFlowSchedulerConfig(config), source);
  }

  const bool unipc = config.is_unipc();
  for (const auto& [key, value] : json->items()) {
    if (absl::StartsWith(key, "_")) continue;  // _class_name, _diffusers_version, ...
    const bool known =
        unipc ? std::find(std::begin(kUniPcKeys), std::end(kUniPcKeys), key) != std::end(kUniPcKeys)
              : std::find(std::begin(kFlowMatchEulerKeys), std::end(kFlowMatchEulerKeys), key) !=
                    std::end(kFlowMatchEulerKeys);
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": unknown field \"", key, "\" for ", config.class_name));
    }
  }
  VG_RETURN_IF_ERROR(
      WithSource(unipc ? ReadUniPc(*json, &config) : ReadFlowMatchEuler(*json, &config), source));
  VG_RETURN_IF_ERROR(WithSource(ValidateFlowSchedulerConfig(config), source));
  return config;
}

absl::StatusOr<FlowSchedulerConfig> LoadFlowSchedulerConfig(const std::string& path) {
  VG_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseFlowSchedulerConfig(text, path);
}

}  // namespace videogen::engine::scheduler
