#include "engine/common/json_config_reader.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace videogen {

absl::Status JsonConfigReader::Int(const char* key, int64_t low, int64_t high, int64_t* out,
                                   Presence presence) const {
  const auto it = json_.find(key);
  if (it == json_.end() && presence == Presence::kOptional) return absl::OkStatus();
  if (it == json_.end() || !it->is_number_integer()) return Error(key, "must be an integer");
  const int64_t value = it->get<int64_t>();
  if (value < low || value > high) {
    return Error(key, absl::StrCat("= ", value, " is outside [", low, ", ", high, "]"));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status JsonConfigReader::Double(const char* key, double low, double high, double* out,
                                      Presence presence) const {
  const auto it = json_.find(key);
  if (it == json_.end() && presence == Presence::kOptional) return absl::OkStatus();
  if (it == json_.end() || !it->is_number()) return Error(key, "must be a number");
  const double value = it->get<double>();
  if (!(value >= low && value <= high)) {
    return Error(key, absl::StrCat("= ", value, " is outside [", low, ", ", high, "]"));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status JsonConfigReader::Bool(const char* key, bool* out, Presence presence) const {
  const auto it = json_.find(key);
  if (it == json_.end() && presence == Presence::kOptional) return absl::OkStatus();
  if (it == json_.end() || !it->is_boolean()) return Error(key, "must be true or false");
  *out = it->get<bool>();
  return absl::OkStatus();
}

template <typename T, typename Convert>
absl::Status JsonConfigReader::Array(const char* key, size_t size, Presence presence,
                                     absl::string_view what, Convert element,
                                     std::vector<T>* out) const {
  const auto it = json_.find(key);
  if (it == json_.end() && presence == Presence::kOptional) return absl::OkStatus();
  const std::string expected = size > 0 ? absl::StrCat("must be an array of ", size, " ", what)
                                        : absl::StrCat("must be an array of ", what);
  if (it == json_.end() || !it->is_array() || (size > 0 && it->size() != size)) {
    return Error(key, expected);
  }
  std::vector<T> values;
  for (const nlohmann::json& value : *it) {
    T converted;
    if (!element(value, &converted)) return Error(key, expected);
    values.push_back(converted);
  }
  *out = std::move(values);
  return absl::OkStatus();
}

absl::Status JsonConfigReader::IntArray(const char* key, size_t size, int64_t low, int64_t high,
                                        std::vector<int64_t>* out, Presence presence) const {
  return Array(
      key, size, presence, absl::StrCat("integers in [", low, ", ", high, "]"),
      [&](const nlohmann::json& value, int64_t* element) {
        if (!value.is_number_integer()) return false;
        *element = value.get<int64_t>();
        return *element >= low && *element <= high;
      },
      out);
}

absl::Status JsonConfigReader::DoubleArray(const char* key, size_t size, double low, double high,
                                           std::vector<double>* out, Presence presence) const {
  return Array(
      key, size, presence, absl::StrCat("numbers in [", low, ", ", high, "]"),
      [&](const nlohmann::json& value, double* element) {
        if (!value.is_number()) return false;
        *element = value.get<double>();
        return *element >= low && *element <= high;
      },
      out);
}

absl::Status JsonConfigReader::BoolArray(const char* key, size_t size, std::vector<bool>* out,
                                         Presence presence) const {
  return Array(
      key, size, presence, "booleans",
      [](const nlohmann::json& value, bool* element) {
        if (!value.is_boolean()) return false;
        *element = value.get<bool>();
        return true;
      },
      out);
}

absl::Status JsonConfigReader::OnlyString(const char* key, absl::string_view supported) const {
  const auto it = json_.find(key);
  if (it == json_.end()) return absl::OkStatus();
  if (!it->is_string()) return Error(key, "must be a string");
  if (it->get_ref<const std::string&>() != supported) {
    return absl::UnimplementedError(absl::StrCat(source_, ": ", key, " = ", it->dump(),
                                                 " is not supported (only \"", supported, "\")"));
  }
  return absl::OkStatus();
}

absl::Status JsonConfigReader::AbsentOrNull(const char* key, absl::string_view what) const {
  const auto it = json_.find(key);
  if (it != json_.end() && !it->is_null()) {
    return absl::UnimplementedError(
        absl::StrCat(source_, ": ", key, " = ", it->dump(), " (", what, ") is not supported"));
  }
  return absl::OkStatus();
}

absl::Status JsonConfigReader::Error(absl::string_view key, absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(source_, ": ", key, " ", what));
}

}  // namespace videogen
