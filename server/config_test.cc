#include "server/config.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

TEST(ServerConfigTest, MinimalConfigGetsTheDocumentedDefaults) {
  ASSERT_OK_AND_ASSIGN(const auto config,
                       ParseServerConfig(R"pb(models { name: "m" path: "/m" })pb"));
  EXPECT_EQ(config.default_model(), "m");
  EXPECT_EQ(config.mp4().crf(), 18);
  EXPECT_EQ(config.mp4().preset(), "medium");
  EXPECT_EQ(config.listen_address(), "0.0.0.0:50051");
  EXPECT_EQ(config.metrics_port(), 9090);
  EXPECT_EQ(config.data_dir(), "/var/lib/videogen");
  EXPECT_EQ(config.schedule_registry_path(), "/var/lib/videogen/schedules.db");
  EXPECT_EQ(config.max_queued_jobs(), 64);
  EXPECT_EQ(config.result_retention().seconds(), 86400);
  EXPECT_EQ(config.limits().max_prompt_bytes(), 2048);
  EXPECT_EQ(config.limits().max_frames(), 81);
  EXPECT_EQ(config.log_level(), videogen::v1::LOG_LEVEL_INFO);
  EXPECT_EQ(config.shutdown_grace_period().seconds(), 60);
  EXPECT_EQ(config.fetch_chunk_bytes(), 1 << 20);
}

TEST(ServerConfigTest, ExplicitValuesWinAndDefaultModelIsTheFirstModel) {
  ASSERT_OK_AND_ASSIGN(const auto config, ParseServerConfig(R"pb(
                         listen_address: "127.0.0.1:6000"
                         metrics_port: 0
                         data_dir: "/data"
                         models { name: "wan2.1-t2v-1.3b" path: "/models/a" }
                         models { name: "tiny" path: "/models/b" }
                       )pb"));
  EXPECT_EQ(config.listen_address(), "127.0.0.1:6000");
  EXPECT_EQ(config.metrics_port(), 0);  // Explicit 0 disables metrics; not replaced.
  EXPECT_EQ(config.schedule_registry_path(), "/data/schedules.db");
  EXPECT_EQ(config.default_model(), "wan2.1-t2v-1.3b");
}

TEST(ServerConfigTest, ParseErrorsNameTheLine) {
  EXPECT_THAT(ParseServerConfig("listen_address: \"a:1\"\nmax_queued_jobz: 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
}

struct BadCase {
  const char* text;
  const char* field;
};

TEST(ServerConfigTest, RejectsEveryOutOfRangeFieldByName) {
  const BadCase cases[] = {
      {R"pb(listen_address: "no-port")pb", "listen_address"},
      {R"pb(listen_address: "host:99999")pb", "listen_address"},
      {R"pb(tls { cert_file: "c.pem" })pb", "tls"},
      {R"pb(metrics_port: 70000)pb", "metrics_port"},
      {R"pb(max_queued_jobs: -1)pb", "max_queued_jobs"},
      {R"pb(result_retention { seconds: -5 })pb", "result_retention"},
      {R"pb(limits { max_height: 8 })pb", "limits.max_height"},
      {R"pb(limits { max_steps: 5000 })pb", "limits.max_steps"},
      {R"pb(limits { max_request_bytes: 10 })pb", "limits.max_request_bytes"},
      {R"pb(fetch_chunk_bytes: 100)pb", "fetch_chunk_bytes"},
      {R"pb(models { name: "Bad Name" path: "/m" })pb", "models.name"},
      {R"pb(models { name: "a" path: "/m" }
            models { name: "a" path: "/n" })pb",
       "appears twice"},
      {R"pb(models { name: "a" })pb", "models.path"},
      {R"pb(models { name: "a" path: "/m" }
            default_model: "b")pb",
       "default_model"},
      {R"pb(engine_layout { cfg_parallel_degree: 3 })pb", "cfg_parallel_degree"},
      {R"pb(limits { min_budget: 1.5 })pb", "limits.min_budget = 1.5"},
      {R"pb(mp4 { crf: 60 })pb", "mp4.crf"},
      {R"pb(mp4 { preset: "warp" })pb", "mp4.preset"},
      {"", "at least one model"},
  };
  for (const BadCase& c : cases) {
    EXPECT_THAT(ParseServerConfig(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.text;
  }
}

TEST(ServerConfigTest, LoadReadsTheFileAndNamesItInErrors) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string good = absl::StrCat(dir, "/good.textproto");
  const std::string bad = absl::StrCat(dir, "/bad.textproto");
  std::ofstream(good) << "max_queued_jobs: 7\nmodels { name: \"m\" path: \"/m\" }\n";
  std::ofstream(bad) << "max_queued_jobs: 0.5\n";
  ASSERT_OK_AND_ASSIGN(const auto config, LoadServerConfig(good));
  EXPECT_EQ(config.max_queued_jobs(), 7);
  EXPECT_THAT(LoadServerConfig(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.textproto")));
  EXPECT_THAT(LoadServerConfig(dir + "/missing.textproto"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.textproto")));
}

}  // namespace
}  // namespace videogen::server
