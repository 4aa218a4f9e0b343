// The engine group's job protocol on the CPU with Gloo: this test process is rank 0 (the leader,
// as the server is) and starts the followers as separate processes of this binary. On the tiny
// golden Wan pipeline (2 heads), a group runs whole generations that match the single-process
// pipeline (dense, and an ASTRAEA schedule against the single process selecting per shard),
// reports the whole group's token counts, stops every rank at the same step when the leader
// cancels and then runs the next job, and shuts its followers down. A follower that dies breaks
// the group: the leader's job fails promptly and the group reports itself unhealthy.
#include "engine/parallel/engine_group.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/astraea/schedule.h"
#include "engine/common/status_macros.h"
#include "engine/parallel/launcher.h"
#include "engine/parallel/layout.h"
#include "engine/parallel/parallel_context.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/text/tokenizer.h"
#include "engine/text/umt5_encoder.h"
#include "engine/wan/pipeline.h"
#include "engine/wan/transformer.h"
#include "engine/wan/vae_config.h"
#include "engine/wan/vae_decoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::parallel {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::RunfilePath;
using ::videogen::testing::StatusIs;

// Float32; Ulysses is exact and the ring's merge differs by rounding only.
constexpr double kBound = 1e-5;

std::string Model() { return RunfilePath("tests/golden/wan_tiny"); }

// The pipeline of one rank: with a text encoder and the VAE on rank 0 (or without a context),
// without them on the followers.
absl::StatusOr<std::unique_ptr<wan::Pipeline>> LoadPipeline(const ParallelContext* context,
                                                            int64_t selection_shards = 1) {
  wan::Pipeline::Components components;
  const std::string dir = Model();
  if (context == nullptr || context->rank() == 0) {
    VG_ASSIGN_OR_RETURN(components.tokenizer, text::Tokenizer::Load(dir + "/tokenizer"));
    VG_ASSIGN_OR_RETURN(components.text_encoder,
                        text::Umt5Encoder::Load(dir + "/text_encoder", at::kFloat, at::kCPU));
  }
  VG_ASSIGN_OR_RETURN(components.transformer,
                      wan::Transformer::Load(dir + "/transformer", at::kFloat, at::kCPU));
  if (context == nullptr || context->rank() == 0) {
    VG_ASSIGN_OR_RETURN(components.vae, wan::VaeDecoder::Load(dir + "/vae", at::kFloat, at::kCPU));
  } else {  // Followers never decode: the configuration sizes their requests.
    VG_ASSIGN_OR_RETURN(components.vae_config, wan::LoadVaeConfig(dir + "/vae/config.json"));
  }
  VG_ASSIGN_OR_RETURN(components.scheduler_config,
                      scheduler::LoadFlowSchedulerConfig(dir + "/scheduler/scheduler_config.json"));
  components.sparse.selection_shards = selection_shards;
  components.parallel = context;
  return wan::Pipeline::Create(std::move(components));
}

absl::StatusOr<std::unique_ptr<ParallelContext>> Connect(int rank, const ParallelLayout& layout,
                                                         int port) {
  ParallelOptions options;
  options.rank = rank;
  options.layout = layout;
  options.store_port = port;
  options.timeout = absl::Seconds(60);
  return ParallelContext::Create(options);
}

// --- The follower program: argv = layout crash(0|1).
int RunFollower(int argc, char** argv) {
  const absl::StatusOr<RankEnvironment> env = RankEnvironmentFromEnv();
  const absl::StatusOr<ParallelLayout> layout =
      argc == 3 ? ParseParallelLayout(argv[1]) : absl::InvalidArgumentError("usage");
  if (!env.ok() || !layout.ok()) {
    std::cerr << "follower: bad invocation\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<ParallelContext>> context =
      Connect(env->rank, *layout, env->store_port);
  if (!context.ok()) {
    std::cerr << "follower " << env->rank << ": " << context.status() << "\n";
    return 1;
  }
  if (std::string(argv[2]) == "1") _exit(3);  // A rank lost after joining its group.
  absl::StatusOr<std::unique_ptr<wan::Pipeline>> pipeline = LoadPipeline(context->get());
  if (!pipeline.ok()) {
    std::cerr << "follower " << env->rank << ": " << pipeline.status() << "\n";
    return 1;
  }
  const absl::Status served = ServeFollower({pipeline->get()}, **context);
  if (!served.ok()) std::cerr << "follower " << env->rank << ": " << served << "\n";
  return served.ok() ? 0 : 1;
}

// This process as the leader of `layout`, its followers started as processes.
struct Group {
  std::unique_ptr<RankProcesses> followers;
  std::unique_ptr<ParallelContext> context;
  std::unique_ptr<wan::Pipeline> pipeline;
  std::unique_ptr<GroupLeader> leader;
};

Group StartGroup(const ParallelLayout& layout, bool crash = false) {
  Group group;
  absl::StatusOr<int> port = PickFreePort();
  EXPECT_TRUE(port.ok());
  LaunchOptions options;
  options.program = CurrentExecutable();
  options.args = {layout.ToString(), crash ? "1" : "0"};
  options.world_size = layout.world_size();
  options.store_port = *port;
  options.timeout = absl::Seconds(120);
  absl::StatusOr<std::unique_ptr<RankProcesses>> followers =
      RankProcesses::Start(options, /*first_rank=*/1);
  EXPECT_TRUE(followers.ok()) << followers.status();
  group.followers = *std::move(followers);
  absl::StatusOr<std::unique_ptr<ParallelContext>> context = Connect(0, layout, *port);
  EXPECT_TRUE(context.ok()) << context.status();
  group.context = *std::move(context);
  absl::StatusOr<std::unique_ptr<wan::Pipeline>> pipeline = LoadPipeline(group.context.get());
  EXPECT_TRUE(pipeline.ok()) << pipeline.status();
  group.pipeline = *std::move(pipeline);
  group.leader = std::make_unique<GroupLeader>(
      std::vector<const wan::Pipeline*>{group.pipeline.get()}, *group.context);
  return group;
}

wan::GenerateRequest Request() {
  wan::GenerateRequest request;
  request.prompt = "a red circle moves left";
  request.negative_prompt = "blurry";
  request.height = 48;  // 3 x 3 x 5 = 45 tokens after the VAE and the 1x2x2 patches: two
  request.width = 80;   // ranks' shards are uneven.
  request.frames = 9;
  request.steps = 4;
  request.seed = 42;
  request.max_sequence_length = 16;
  return request;
}

double RelativeError(const at::Tensor& got, const at::Tensor& expected) {
  return (got - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

class EngineGroupTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineGroupTest, RunsJobsLikeOneProcessCancelsTogetherAndShutsDown) {
  ASSERT_OK_AND_ASSIGN(const ParallelLayout layout, ParseParallelLayout(GetParam()));
  Group group = StartGroup(layout);
  ASSERT_TRUE(group.leader);

  // Dense.
  ASSERT_OK_AND_ASSIGN(const auto single, LoadPipeline(nullptr));
  wan::GenerateRequest dense = Request();
  ASSERT_OK_AND_ASSIGN(const at::Tensor dense_expected,
                       single->GenerateLatents(dense, nullptr, nullptr));
  ASSERT_OK_AND_ASSIGN(const at::Tensor dense_got,
                       group.leader->GenerateLatents(0, dense, nullptr, nullptr));
  EXPECT_LT(RelativeError(dense_got, dense_expected), kBound);

  // ASTRAEA, against one process that selects per shard; the step events count every rank.
  ASSERT_OK_AND_ASSIGN(const auto sharded, LoadPipeline(nullptr, layout.sequence_size()));
  wan::GenerateRequest sparse = Request();
  ASSERT_OK_AND_ASSIGN(sparse.schedule, astraea::BudgetSchedule::FromLevels({10, 5, 3, 7}));
  std::vector<int64_t> expected_tokens, got_tokens;
  ASSERT_OK_AND_ASSIGN(
      const at::Tensor sparse_expected,
      sharded->GenerateLatents(
          sparse, [&](const wan::StepEvent& e) { expected_tokens.push_back(e.tokens_computed); },
          nullptr));
  ASSERT_OK_AND_ASSIGN(
      const at::Tensor sparse_got,
      group.leader->GenerateLatents(
          0, sparse, [&](const wan::StepEvent& e) { got_tokens.push_back(e.tokens_computed); },
          nullptr));
  EXPECT_LT(RelativeError(sparse_got, sparse_expected), kBound);
  EXPECT_EQ(got_tokens, expected_tokens);

  // The leader cancels before step 3: every rank stops there, and the group stays usable.
  int steps = 0;
  EXPECT_THAT(group.leader->GenerateLatents(
                  0, sparse, [&](const wan::StepEvent&) { ++steps; }, [&] { return steps == 2; }),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("before step 3")));
  EXPECT_TRUE(group.leader->healthy());
  ASSERT_OK_AND_ASSIGN(const at::Tensor again,
                       group.leader->GenerateLatents(0, dense, nullptr, nullptr));
  EXPECT_LT(RelativeError(again, dense_expected), kBound);

  // An invalid request never reaches the followers.
  wan::GenerateRequest bad = Request();
  bad.frames = 8;
  EXPECT_THAT(group.leader->GenerateLatents(0, bad, nullptr, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(group.leader->healthy());

  ASSERT_OK(group.leader->Shutdown());
  for (const RankExit& exit : group.followers->Wait()) {
    EXPECT_TRUE(exit.ok()) << "exit " << exit.exit_code << " signal " << exit.signal;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, EngineGroupTest,
                         ::testing::Values("ulysses2", "ring2", "cfg2", "cfg2xring2"));

TEST(EngineGroupFailureTest, ALostFollowerBreaksTheGroupInsteadOfHangingIt) {
  const absl::Time start = absl::Now();
  Group group = StartGroup(ParallelLayout{1, 1, 2}, /*crash=*/true);
  ASSERT_TRUE(group.leader);
  EXPECT_THAT(group.leader->GenerateLatents(0, Request(), nullptr, nullptr),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("must be restarted")));
  EXPECT_FALSE(group.leader->healthy());
  EXPECT_THAT(group.leader->GenerateLatents(0, Request(), nullptr, nullptr),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
  const std::vector<RankExit> exits = group.followers->Wait();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].exit_code, 3);
}

TEST(EngineGroupFailureTest, CfgParallelGroupsNeedGuidance) {
  Group group = StartGroup(ParallelLayout{2, 1, 1});
  ASSERT_TRUE(group.leader);
  wan::GenerateRequest unguided = Request();
  unguided.guidance_scale = 1.0;
  EXPECT_THAT(group.leader->GenerateLatents(0, unguided, nullptr, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CFG-parallel")));
  ASSERT_OK(group.leader->Shutdown());
  for (const RankExit& exit : group.followers->Wait()) EXPECT_TRUE(exit.ok());
}

}  // namespace
}  // namespace videogen::engine::parallel

int main(int argc, char** argv) {
  if (std::getenv("VIDEOGEN_RANK") != nullptr) {
    return videogen::engine::parallel::RunFollower(argc, argv);
  }
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
