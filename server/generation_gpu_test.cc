// Generations through the gRPC API on a GPU at the real Wan2.1-1.3B configuration (random
// weights, engine/wan/testing/random_pipeline.h): an in-process server with the job manager,
// Generate calls over loopback at 480x832, 33 frames, 50 steps, dense (twice) and at budget
// 0.5, and the job records' schedule, tokens, per-stage timings and peak memory printed as JSON.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/wan/testing/random_pipeline.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "server/video_generation_service.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::videogen::v1::JobEvent;
using ::videogen::v1::VideoJob;

TEST(GenerationGpuTest, Wan13BConfigurationThroughTheGrpcApi) {
  videogen::v1::ServerConfig config;
  ApplyServerConfigDefaults(config);
  constexpr char kModel[] = "wan2.1-t2v-1.3b-random";
  auto* model = config.add_models();
  model->set_name(kModel);
  model->set_path("(random weights)");
  config.set_default_model(kModel);
  config.set_data_dir(absl::StrCat(std::getenv("TEST_TMPDIR"), "/data"));
  std::filesystem::create_directories(config.data_dir());

  ASSERT_OK_AND_ASSIGN(auto pipeline,
                       engine::wan::testing::RandomWan21Pipeline1p3B(at::Device(at::kCUDA, 0)));
  ASSERT_OK_AND_ASSIGN(auto results, ResultStore::Open(config.data_dir() + "/results"));
  ASSERT_OK_AND_ASSIGN(auto registry, ScheduleRegistry::Open(config.data_dir() + "/schedules.db"));
  std::vector<std::unique_ptr<JobRunner>> runners;
  runners.push_back(
      std::make_unique<JobRunner>(kModel, pipeline.get(), results.get(), registry.get()));
  ASSERT_OK(runners.back()->WarmUp());
  ASSERT_OK_AND_ASSIGN(auto manager,
                       JobManager::Create(config, std::move(runners), std::move(results), nullptr));
  ASSERT_OK_AND_ASSIGN(auto service, VideoGenerationService::Create(config, ""));
  service->Attach(manager.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service.get());
  auto server = builder.BuildAndStart();
  auto stub = videogen::v1::VideoGeneration::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  // Dense twice: the first 480p job also pays for the kernels' first use at that size.
  for (const float budget : {1.0f, 1.0f, 0.5f}) {
    grpc::ClientContext context;
    videogen::v1::GenerateRequest request;
    auto* spec = request.mutable_spec();
    spec->set_prompt("a corgi surfing a wave at sunset, cinematic");
    spec->set_height(480);
    spec->set_width(832);
    spec->set_frames(33);
    spec->set_steps(50);
    spec->set_seed(42);
    spec->set_budget(budget);
    auto reader = stub->Generate(&context, request);
    JobEvent event;
    int progress_events = 0;
    VideoJob job;
    while (reader->Read(&event)) {
      progress_events += event.has_progress();
      if (event.has_result()) job = event.result();
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(job.state(), videogen::v1::JOB_STATE_SUCCEEDED) << job.error_message();
    EXPECT_GT(progress_events, 0);
    EXPECT_GT(job.peak_device_memory_bytes(), 0);
    EXPECT_TRUE(job.stage_timings().has_denoising());
    job.mutable_spec()->clear_prompt();
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(job, &json, options).ok());
    std::printf("job record (budget %.1f):\n%s\n", budget, json.c_str());
  }
  manager->Drain(absl::ZeroDuration());
  server->Shutdown();
}

}  // namespace
}  // namespace videogen::server
