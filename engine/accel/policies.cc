#include "engine/accel/policies.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/accel/delta_dit.h"
#include "engine/accel/pab.h"
#include "engine/accel/teacache.h"
#include "engine/accel/toca.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {
namespace {

// The key=value settings of a spec, each consumed once by the policy's reader; whatever is left
// over is an unknown setting.
class Settings {
 public:
  // Parses the text between the parentheses of "NAME(...)".
  static absl::StatusOr<Settings> Parse(absl::string_view policy, absl::string_view text) {
    Settings settings(policy);
    if (text.empty()) return settings;
    // Split at the commas outside brackets.
    std::vector<std::string> items;
    int depth = 0;
    std::string item;
    for (const char c : text) {
      if (c == '[') ++depth;
      if (c == ']') --depth;
      if (depth < 0 || depth > 1) {
        return settings.Error(absl::StrCat("unbalanced brackets in '", text, "'"));
      }
      if (c == ',' && depth == 0) {
        items.push_back(std::move(item));
        item.clear();
      } else {
        item.push_back(c);
      }
    }
    if (depth != 0) return settings.Error(absl::StrCat("unbalanced brackets in '", text, "'"));
    items.push_back(std::move(item));
    for (const std::string& kv : items) {
      const std::vector<absl::string_view> parts = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
        return settings.Error(absl::StrCat("'", kv, "' is not key=value"));
      }
      if (!settings.values_.emplace(std::string(parts[0]), std::string(parts[1])).second) {
        return settings.Error(absl::StrCat("setting '", parts[0], "' is given twice"));
      }
    }
    return settings;
  }

  // Each reader leaves `out` as it is (the default) if the key is absent.
  absl::Status Int(absl::string_view key, int* out) {
    std::string text;
    if (!Take(key, &text)) return absl::OkStatus();
    if (!absl::SimpleAtoi(text, out)) {
      return Error(absl::StrCat(key, "=", text, " is not an integer"));
    }
    return absl::OkStatus();
  }
  absl::Status Double(absl::string_view key, double* out) {
    std::string text;
    if (!Take(key, &text)) return absl::OkStatus();
    if (!absl::SimpleAtod(text, out) || !std::isfinite(*out)) {
      return Error(absl::StrCat(key, "=", text, " is not a finite number"));
    }
    return absl::OkStatus();
  }
  absl::Status List(absl::string_view key, std::vector<double>* out) {
    std::string text;
    if (!Take(key, &text)) return absl::OkStatus();
    if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
      return Error(absl::StrCat(key, "=", text, " is not a bracketed list like [1,0]"));
    }
    std::vector<double> values;
    for (absl::string_view item :
         absl::StrSplit(absl::string_view(text).substr(1, text.size() - 2), ',')) {
      double value;
      if (!absl::SimpleAtod(item, &value) || !std::isfinite(value)) {
        return Error(absl::StrCat(key, "=", text, ": '", item, "' is not a finite number"));
      }
      values.push_back(value);
    }
    *out = std::move(values);
    return absl::OkStatus();
  }
  // INVALID_ARGUMENT naming the settings no reader took.
  absl::Status CheckAllUsed() const {
    if (values_.empty()) return absl::OkStatus();
    std::vector<std::string> keys;
    for (const auto& [key, value] : values_) keys.push_back(key);
    return Error(absl::StrCat("unknown setting(s) ", absl::StrJoin(keys, ", ")));
  }

 private:
  explicit Settings(absl::string_view policy) : policy_(policy) {}
  bool Take(absl::string_view key, std::string* value) {
    const auto it = values_.find(std::string(key));
    if (it == values_.end()) return false;
    *value = std::move(it->second);
    values_.erase(it);
    return true;
  }
  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("acceleration ", policy_, ": ", message));
  }

  std::string policy_;
  std::map<std::string, std::string> values_;
};

absl::StatusOr<std::shared_ptr<const Policy>> Pab(Settings& s) {
  PabOptions o;
  VG_RETURN_IF_ERROR(s.Int("self", &o.self_attention_range));
  VG_RETURN_IF_ERROR(s.Int("cross", &o.cross_attention_range));
  VG_RETURN_IF_ERROR(s.Double("untouched", &o.untouched_fraction));
  VG_RETURN_IF_ERROR(s.CheckAllUsed());
  return PabPolicy::Create(o);
}

absl::StatusOr<std::shared_ptr<const Policy>> Toca(Settings& s) {
  TocaOptions o;
  VG_RETURN_IF_ERROR(s.Int("interval", &o.interval));
  VG_RETURN_IF_ERROR(s.Double("reuse", &o.reuse_ratio));
  VG_RETURN_IF_ERROR(s.CheckAllUsed());
  return TocaPolicy::Create(o);
}

absl::StatusOr<std::shared_ptr<const Policy>> DeltaDit(Settings& s) {
  DeltaDitOptions o;
  VG_RETURN_IF_ERROR(s.Int("switch", &o.switch_step));
  VG_RETURN_IF_ERROR(s.Int("interval", &o.interval));
  VG_RETURN_IF_ERROR(s.Int("start", &o.first_partial_step));
  VG_RETURN_IF_ERROR(s.Int("end", &o.end_partial_step));
  VG_RETURN_IF_ERROR(s.Int("blocks", &o.cached_blocks));
  VG_RETURN_IF_ERROR(s.CheckAllUsed());
  return DeltaDitPolicy::Create(o);
}

absl::StatusOr<std::shared_ptr<const Policy>> TeaCache(Settings& s) {
  TeaCacheOptions o;
  VG_RETURN_IF_ERROR(s.Double("threshold", &o.threshold));
  VG_RETURN_IF_ERROR(s.List("coefficients", &o.coefficients));
  VG_RETURN_IF_ERROR(s.CheckAllUsed());
  return TeaCachePolicy::Create(o);
}

using Reader = absl::StatusOr<std::shared_ptr<const Policy>> (*)(Settings&);

const std::vector<std::pair<std::string, Reader>>& Readers() {
  static const auto* readers = new std::vector<std::pair<std::string, Reader>>{
      {"pab", &Pab}, {"toca", &Toca}, {"delta_dit", &DeltaDit}, {"teacache", &TeaCache}};
  return *readers;
}

}  // namespace

const std::vector<std::string>& PolicyNames() {
  static const auto* names = [] {
    auto* out = new std::vector<std::string>;
    for (const auto& [name, reader] : Readers()) out->push_back(name);
    return out;
  }();
  return *names;
}

absl::StatusOr<std::shared_ptr<const Policy>> ParsePolicy(absl::string_view spec) {
  std::string text;
  for (const char c : spec) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) text.push_back(c);
  }
  const size_t open = text.find('(');
  const std::string name = text.substr(0, open);
  std::string inner;
  if (open != std::string::npos) {
    if (text.back() != ')') {
      return absl::InvalidArgumentError(
          absl::StrCat("acceleration '", spec, "' must end with ')' after its settings"));
    }
    inner = text.substr(open + 1, text.size() - open - 2);
  }
  for (const auto& [known, reader] : Readers()) {
    if (known != name) continue;
    VG_ASSIGN_OR_RETURN(Settings settings, Settings::Parse(name, inner));
    return reader(settings);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown acceleration '", name,
                                                 "'; known: ", absl::StrJoin(PolicyNames(), ", ")));
}

}  // namespace videogen::engine::accel
