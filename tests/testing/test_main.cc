// The main() of every C++ test: GoogleTest/GoogleMock with logging set up the way the server does,
// at the level named by $VIDEOGEN_TEST_LOG_LEVEL (default "warn", so passing tests stay quiet).
#include <cstdlib>
#include <iostream>

#include "engine/common/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  videogen::LoggingOptions logging;
  const char* level = std::getenv("VIDEOGEN_TEST_LOG_LEVEL");
  logging.level = level != nullptr ? level : "warn";
  if (const absl::Status status = videogen::InitLogging(logging); !status.ok()) {
    std::cerr << "test_main: " << status << "\n";
    return 2;
  }
  return RUN_ALL_TESTS();
}
