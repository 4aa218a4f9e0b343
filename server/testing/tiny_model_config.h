// Test support: a server config (defaults applied) serving the tiny Wan2.1 model of
// tests/golden/wan_tiny as the default model kTinyModel, with its data_dir a fresh directory
// named after the running test under TEST_TMPDIR. Needs //tests/golden in the runfiles.
#ifndef VIDEOGEN_SERVER_TESTING_TINY_MODEL_CONFIG_H_
#define VIDEOGEN_SERVER_TESTING_TINY_MODEL_CONFIG_H_

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/server_config.pb.h"
#include "server/config.h"
#include "tests/testing/runfiles.h"

namespace videogen::server::testing {

inline constexpr char kTinyModel[] = "wan-tiny";

inline videogen::v1::ServerConfig TinyModelConfig() {
  videogen::v1::ServerConfig config;
  ApplyServerConfigDefaults(config);
  auto* model = config.add_models();
  model->set_name(kTinyModel);
  model->set_path(videogen::testing::RunfilePath("tests/golden/wan_tiny"));
  config.set_default_model(kTinyModel);
  config.set_data_dir(absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name()));
  std::filesystem::create_directories(config.data_dir());
  return config;
}

}  // namespace videogen::server::testing

#endif  // VIDEOGEN_SERVER_TESTING_TINY_MODEL_CONFIG_H_
