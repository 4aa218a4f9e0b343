#include "engine/common/json.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace videogen {

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text) {
  using Json = nlohmann::json;
  // nlohmann keeps the last of repeated keys; the callback sees every key and records repeats.
  std::vector<std::set<std::string>> keys_per_object;
  std::string duplicate;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      keys_per_object.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      keys_per_object.pop_back();
    } else if (event == Json::parse_event_t::key && duplicate.empty() &&
               !keys_per_object.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("JSON repeats the key \"", duplicate, "\""));
  }
  return json;
}

}  // namespace videogen
