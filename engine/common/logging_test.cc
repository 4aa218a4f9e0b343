#include "engine/common/logging.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::videogen::testing::IsOk;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

LoggingOptions FileOnly(const std::string& level, const std::string& path) {
  LoggingOptions options;
  options.level = level;
  options.file_path = path;
  options.log_to_stderr = false;
  return options;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(ParseLogLevelTest, AcceptsEveryDocumentedName) {
  EXPECT_THAT(ParseLogLevel("trace"), IsOkAndHolds(spdlog::level::trace));
  EXPECT_THAT(ParseLogLevel("debug"), IsOkAndHolds(spdlog::level::debug));
  EXPECT_THAT(ParseLogLevel("info"), IsOkAndHolds(spdlog::level::info));
  EXPECT_THAT(ParseLogLevel("warn"), IsOkAndHolds(spdlog::level::warn));
  EXPECT_THAT(ParseLogLevel("error"), IsOkAndHolds(spdlog::level::err));
  EXPECT_THAT(ParseLogLevel("critical"), IsOkAndHolds(spdlog::level::critical));
  EXPECT_THAT(ParseLogLevel("off"), IsOkAndHolds(spdlog::level::off));
}

TEST(ParseLogLevelTest, RejectsUnknownNames) {
  EXPECT_THAT(ParseLogLevel("verbose"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'verbose'")));
  EXPECT_THAT(ParseLogLevel(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(InitLoggingTest, WritesComponentLinesAtOrAboveTheLevelToTheFile) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/log.txt");
  ASSERT_THAT(InitLogging(FileOnly("info", path)), IsOk());

  GetLogger(kEngineLogger)->debug("hidden detail");
  GetLogger(kEngineLogger)->info("job {} started", "j-17");
  GetLogger(kServerLogger)->warn("queue full");
  spdlog::apply_all([](const auto& logger) { logger->flush(); });

  const std::string contents = ReadFile(path);
  EXPECT_THAT(contents, HasSubstr("I engine] job j-17 started"));
  EXPECT_THAT(contents, HasSubstr("W server] queue full"));
  EXPECT_THAT(contents, Not(HasSubstr("hidden detail")));
}

TEST(InitLoggingTest, UnopenableFileIsFailedPrecondition) {
  // spdlog creates missing directories (and tests may run as root), so block the path with a file.
  const std::string blocker = absl::StrCat(std::getenv("TEST_TMPDIR"), "/not-a-directory");
  std::ofstream(blocker) << "x";
  EXPECT_THAT(InitLogging(FileOnly("info", blocker + "/log.txt")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not-a-directory")));
}

TEST(InitLoggingTest, UnknownLevelIsInvalidArgument) {
  EXPECT_THAT(InitLogging(FileOnly("loud", "")), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GetLoggerTest, UnknownNameStillReturnsAUsableLogger) {
  auto logger = GetLogger("not-created-by-init");
  ASSERT_NE(logger, nullptr);
  logger->info("usable");
}

}  // namespace
}  // namespace videogen
