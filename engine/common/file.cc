#include "engine/common/file.h"

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace videogen {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return bytes;
}

}  // namespace videogen
