#include "engine/common/file.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

TEST(ReadFileTest, ReadsEveryByte) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/bytes";
  const std::string bytes("a\0b\r\n\xff", 6);
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_THAT(ReadFile(path), IsOkAndHolds(bytes));
}

TEST(ReadFileTest, MissingFileIsNotFoundNamingThePath) {
  EXPECT_THAT(ReadFile("/nonexistent/config.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/config.json")));
}

}  // namespace
}  // namespace videogen
