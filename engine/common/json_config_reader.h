// Typed, range-checked reads of the fields of a model's config.json (already parsed with
// ParseStrictJson). Every error names the file (`source`) and the field:
//   INVALID_ARGUMENT "<source>: <field> must be an integer" / "... = 0 is outside [1, 1024]"
//   UNIMPLEMENTED    "<source>: <field> = <value> ... is not supported"
// Reads leave `*out` unchanged when the field is absent and optional.
#ifndef VIDEOGEN_ENGINE_COMMON_JSON_CONFIG_READER_H_
#define VIDEOGEN_ENGINE_COMMON_JSON_CONFIG_READER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace videogen {

class JsonConfigReader {
 public:
  enum class Presence { kRequired, kOptional };

  // `json` and `source` must outlive the reader.
  JsonConfigReader(const nlohmann::json& json, absl::string_view source)
      : json_(json), source_(source) {}

  absl::Status Int(const char* key, int64_t low, int64_t high, int64_t* out,
                   Presence presence = Presence::kRequired) const;
  absl::Status Double(const char* key, double low, double high, double* out,
                      Presence presence = Presence::kRequired) const;
  absl::Status Bool(const char* key, bool* out, Presence presence = Presence::kRequired) const;
  // Arrays of the above; `size` > 0 requires exactly that many elements, 0 allows any number.
  absl::Status IntArray(const char* key, size_t size, int64_t low, int64_t high,
                        std::vector<int64_t>* out, Presence presence = Presence::kRequired) const;
  absl::Status DoubleArray(const char* key, size_t size, double low, double high,
                           std::vector<double>* out, Presence presence = Presence::kRequired) const;
  absl::Status BoolArray(const char* key, size_t size, std::vector<bool>* out,
                         Presence presence = Presence::kRequired) const;
  // A string field whose only supported value is `supported`; absent counts as supported.
  absl::Status OnlyString(const char* key, absl::string_view supported) const;
  // A feature the engine does not implement: the field must be absent or null. `what` names it.
  absl::Status AbsentOrNull(const char* key, absl::string_view what) const;

  // INVALID_ARGUMENT "<source>: <key> <what>".
  absl::Status Error(absl::string_view key, absl::string_view what) const;

 private:
  // Reads the array `key`, converting each element with `element` (false: ill-typed or out of
  // range, described by `what`).
  template <typename T, typename Convert>
  absl::Status Array(const char* key, size_t size, Presence presence, absl::string_view what,
                     Convert element, std::vector<T>* out) const;

  const nlohmann::json& json_;
  absl::string_view source_;
};

}  // namespace videogen

#endif  // VIDEOGEN_ENGINE_COMMON_JSON_CONFIG_READER_H_
