// Paths of a test's data files (Bazel `data` dependencies), by workspace-relative path.
#ifndef VIDEOGEN_TESTS_TESTING_RUNFILES_H_
#define VIDEOGEN_TESTS_TESTING_RUNFILES_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace videogen::testing {

// E.g. RunfilePath("tests/golden/wan_tiny/transformer"). Valid inside `bazel test`/`bazel run`.
inline std::string RunfilePath(absl::string_view path) {
  const char* root = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(root != nullptr ? root : ".", "/",
                      workspace != nullptr ? workspace : "videogen", "/", path);
}

}  // namespace videogen::testing

#endif  // VIDEOGEN_TESTS_TESTING_RUNFILES_H_
