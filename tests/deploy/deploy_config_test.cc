// Every server config the Kubernetes manifests ship (deploy/k8s/**/server.textproto) is a valid
// videogen.v1.ServerConfig.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "server/config.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

TEST(DeployConfigTest, EveryShippedConfigIsValid) {
  const std::filesystem::path root = videogen::testing::RunfilePath("deploy/k8s");
  int configs = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "server.textproto") continue;
    ++configs;
    absl::StatusOr<videogen::v1::ServerConfig> config = LoadServerConfig(entry.path().string());
    ASSERT_TRUE(config.ok()) << entry.path() << ": " << config.status();
    EXPECT_EQ(config->listen_address(), "0.0.0.0:50051") << entry.path();
    EXPECT_EQ(config->data_dir(), "/var/lib/videogen") << entry.path();
    EXPECT_EQ(config->shutdown_grace_period().seconds(), 60) << entry.path();
  }
  EXPECT_EQ(configs, 4);  // The base and the overlays that replace it.
}

}  // namespace
}  // namespace videogen::server
