// Multi-process tests of the parallel engine on the CPU: every parallel layout of 2 to 4 ranks
// (separate processes, Gloo over loopback, started by the launcher) runs a short denoising loop
// of a random 12-head Wan transformer with guidance, dense and with an ASTRAEA schedule, and
// must end with the single-process result: within float32 rounding (the ring merges partial
// attentions in another order), relative max error below kBound. Token counts that the ranks do
// not divide evenly are included. A rank that dies mid-run makes the others fail on their own
// instead of hanging.
//
// The test binary is also the rank program: started with VIDEOGEN_RANK set it runs one rank.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "c10/core/InferenceMode.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/parallel/launcher.h"
#include "engine/parallel/layout.h"
#include "engine/parallel/parallel_context.h"
#include "engine/parallel/parallel_denoiser.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::parallel {
namespace {

// Float32 everywhere. Measured: Ulysses and CFG-parallel are bit-identical to one process;
// the ring's log-sum-exp merge of partial attentions differs by up to 7e-7 of the output's max.
constexpr double kBound = 1e-5;
constexpr double kGuidance = 5.0;

// A Wan transformer with 12 heads like the 1.3B model's (so Ulysses degrees 2, 3, 4 and 6 are
// valid), small enough for the CPU.
wan::TransformerConfig SmallConfig() {
  wan::TransformerConfig config;
  config.num_heads = 12;
  config.head_dim = 8;
  config.in_channels = config.out_channels = 4;
  config.text_dim = 32;
  config.freq_dim = 16;
  config.ffn_dim = 128;
  config.num_layers = 2;
  config.rope_max_seq_len = 32;
  return config;
}

std::unique_ptr<wan::Transformer> SmallTransformer() {
  const wan::TransformerConfig config = SmallConfig();
  at::manual_seed(11);
  LoadOptions policy;
  policy.dtype = at::kFloat;
  absl::StatusOr<std::unique_ptr<wan::Transformer>> transformer = wan::Transformer::Create(
      config,
      engine::testing::RandomWeights(wan::Transformer::Parameters(config), policy, at::kCPU,
                                     /*scale=*/0.1),
      at::kCPU);
  TORCH_CHECK(transformer.ok(), transformer.status().ToString());
  return *std::move(transformer);
}

// What one run computes: its latents' token grid (frames x rows x columns after 1x2x2 patches)
// and whether it runs an ASTRAEA schedule.
struct Case {
  int64_t frames = 3, rows = 5, cols = 7;
  bool sparse = false;
};

astraea::BudgetSchedule Schedule() {
  absl::StatusOr<astraea::BudgetSchedule> schedule =
      astraea::BudgetSchedule::FromLevels({10, 5, 3, 0, 7});
  TORCH_CHECK(schedule.ok(), schedule.status().ToString());
  return *schedule;
}

constexpr int kDenseSteps = 3;

struct Inputs {
  at::Tensor latents;
  wan::Transformer::TextContext prompt, negative;
};

Inputs MakeInputs(const wan::Transformer& transformer, const Case& c) {
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  Inputs inputs;
  inputs.latents = at::randn({1, 4, c.frames, 2 * c.rows, 2 * c.cols}, generator, at::kFloat);
  inputs.prompt = transformer.EncodeText(at::randn({1, 7, 32}, generator, at::kFloat));
  inputs.negative = transformer.EncodeText(at::randn({1, 7, 32}, generator, at::kFloat));
  return inputs;
}

// x <- x - v(x, t) / steps over decreasing t, v the guided prediction `predict` gives.
template <typename Predict>
at::Tensor Walk(at::Tensor x, int steps, Predict predict) {
  c10::InferenceMode inference;
  for (int step = 0; step < steps; ++step) {
    x = x - predict(x, at::full({1}, 999 - 50 * step, at::kLong)) / steps;
  }
  return x;
}

// The single-process reference; sparse runs select per shard of `shards` like a parallel run.
at::Tensor SingleProcess(const Case& c, int64_t shards) {
  const std::unique_ptr<wan::Transformer> transformer = SmallTransformer();
  const Inputs inputs = MakeInputs(*transformer, c);
  astraea::SparseOptions options;
  options.selection_shards = shards;
  const auto sparse = astraea::SparseTransformer::Create(*transformer, options);
  TORCH_CHECK(sparse.ok());
  std::optional<astraea::SparseState> cond, uncond;
  if (c.sparse) {
    cond.emplace(*(*sparse)->NewState(Schedule()));
    uncond.emplace(*(*sparse)->NewState(Schedule()));
  }
  auto forward = [&](const at::Tensor& x, const at::Tensor& t,
                     const wan::Transformer::TextContext& text,
                     std::optional<astraea::SparseState>& state) {
    if (!state.has_value()) return transformer->Forward(x, t, text);
    return *(*sparse)->Forward(x, t, text, *state);
  };
  return Walk(inputs.latents, c.sparse ? Schedule().steps() : kDenseSteps,
              [&](const at::Tensor& x, const at::Tensor& t) {
                const at::Tensor v_cond = forward(x, t, inputs.prompt, cond);
                const at::Tensor v_uncond = forward(x, t, inputs.negative, uncond);
                return v_uncond + kGuidance * (v_cond - v_uncond);
              });
}

// --- The rank program: argv = layout frames rows cols sparse(0|1) output_prefix die_rank
// die_at_step (rank die_rank exits with code 3 before step die_at_step; -1: none).
int RunRank(int argc, char** argv) {
  absl::StatusOr<RankEnvironment> env = RankEnvironmentFromEnv();
  if (!env.ok() || argc != 9) {
    std::cerr << "rank: bad invocation: " << env.status() << "\n";
    return 2;
  }
  absl::StatusOr<ParallelLayout> layout = ParseParallelLayout(argv[1]);
  Case c;
  int sparse = 0, die_rank = -1, die_at_step = -1;
  if (!layout.ok() || !absl::SimpleAtoi(argv[2], &c.frames) ||
      !absl::SimpleAtoi(argv[3], &c.rows) || !absl::SimpleAtoi(argv[4], &c.cols) ||
      !absl::SimpleAtoi(argv[5], &sparse) || !absl::SimpleAtoi(argv[7], &die_rank) ||
      !absl::SimpleAtoi(argv[8], &die_at_step)) {
    std::cerr << "rank: bad arguments\n";
    return 2;
  }
  c.sparse = sparse != 0;
  if (die_rank != env->rank) die_at_step = -1;
  const std::unique_ptr<wan::Transformer> transformer = SmallTransformer();
  if (absl::Status valid = ValidateLayout(*layout, transformer->config().num_heads, true);
      !valid.ok()) {
    std::cerr << "rank " << env->rank << ": " << valid << "\n";
    return 2;
  }
  ParallelOptions options;
  options.rank = env->rank;
  options.layout = *layout;
  options.store_port = env->store_port;
  options.timeout = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<ParallelContext>> context = ParallelContext::Create(options);
  if (!context.ok()) {
    std::cerr << "rank " << env->rank << ": " << context.status() << "\n";
    return 1;
  }
  const Inputs inputs = MakeInputs(*transformer, c);
  const auto sparse_model = astraea::SparseTransformer::Create(*transformer);
  const ParallelDenoiser denoiser(*transformer, **sparse_model, **context);
  std::optional<astraea::SparseState> cond, uncond;
  if (c.sparse) {
    cond.emplace(*(*sparse_model)->NewState(Schedule()));
    uncond.emplace(*(*sparse_model)->NewState(Schedule()));
  }
  ParallelDenoiser::Branch prompt{&inputs.prompt, cond ? &*cond : nullptr};
  ParallelDenoiser::Branch negative{&inputs.negative, uncond ? &*uncond : nullptr};
  int step = 0;
  try {
    const at::Tensor out = Walk(inputs.latents, c.sparse ? Schedule().steps() : kDenseSteps,
                                [&](const at::Tensor& x, const at::Tensor& t) {
                                  if (step++ == die_at_step) _exit(3);  // A crashed rank.
                                  absl::StatusOr<at::Tensor> v =
                                      denoiser.Predict(x, t, prompt, negative, true, kGuidance);
                                  TORCH_CHECK(v.ok(), v.status().ToString());
                                  return *v;
                                });
    std::ofstream file(absl::StrCat(argv[6], env->rank), std::ios::binary);
    file.write(static_cast<const char*>(out.data_ptr()), out.nbytes());
    return file.good() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rank " << env->rank << " failed at step " << step << ": " << e.what() << "\n";
    return 1;
  }
}

std::string OutputPrefix(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name, "_rank");
}

// Runs `layout` as separate processes and returns their exits.
std::vector<RankExit> Launch(const ParallelLayout& layout, const Case& c, const std::string& out,
                             int die_rank = -1, int die_at_step = -1) {
  LaunchOptions options;
  options.program = CurrentExecutable();
  options.args = {layout.ToString(),      absl::StrCat(c.frames),   absl::StrCat(c.rows),
                  absl::StrCat(c.cols),   c.sparse ? "1" : "0",     out,
                  absl::StrCat(die_rank), absl::StrCat(die_at_step)};
  options.world_size = layout.world_size();
  options.timeout = absl::Seconds(150);
  options.grace = absl::Seconds(60);
  absl::StatusOr<std::vector<RankExit>> exits = LaunchRanks(options);
  EXPECT_TRUE(exits.ok()) << exits.status();
  return exits.ok() ? *exits : std::vector<RankExit>();
}

at::Tensor ReadOutput(const std::string& path, const at::Tensor& like) {
  at::Tensor out = at::empty_like(like);
  std::ifstream file(path, std::ios::binary);
  file.read(static_cast<char*>(out.data_ptr()), out.nbytes());
  EXPECT_TRUE(file.good()) << path;
  return out;
}

struct LayoutCase {
  const char* layout;
  Case grid;
};

void PrintTo(const LayoutCase& c, std::ostream* os) {
  *os << c.layout << " over " << c.grid.frames * c.grid.rows * c.grid.cols << " tokens";
}

class ParallelDenoiserTest : public ::testing::TestWithParam<std::tuple<LayoutCase, bool>> {};

TEST_P(ParallelDenoiserTest, MatchesTheSingleProcessRun) {
  const auto& [layout_case, sparse] = GetParam();
  ASSERT_OK_AND_ASSIGN(const ParallelLayout layout, ParseParallelLayout(layout_case.layout));
  Case c = layout_case.grid;
  c.sparse = sparse;
  const int64_t tokens = c.frames * c.rows * c.cols;
  const at::Tensor expected = SingleProcess(c, layout.sequence_size());
  const std::string out = OutputPrefix(absl::StrCat(layout.ToString(), "_", tokens, "_", sparse));
  const std::vector<RankExit> exits = Launch(layout, c, out);
  ASSERT_EQ(exits.size(), static_cast<size_t>(layout.world_size()));
  for (int rank = 0; rank < layout.world_size(); ++rank) {
    ASSERT_TRUE(exits[rank].ok()) << "rank " << rank << " exit " << exits[rank].exit_code
                                  << " signal " << exits[rank].signal;
    const at::Tensor got = ReadOutput(absl::StrCat(out, rank), expected);
    const double error =
        (got - expected).abs().max().item<double>() / expected.abs().max().item<double>();
    EXPECT_LT(error, kBound) << layout.ToString() << ", " << tokens << " tokens, rank " << rank;
  }
}

// 105 tokens divide among 3 but not 2 or 4 ranks' shards; 70 among 2 but not 3 or 4.
constexpr Case k105{3, 5, 7};
constexpr Case k70{2, 5, 7};

INSTANTIATE_TEST_SUITE_P(
    Layouts, ParallelDenoiserTest,
    ::testing::Combine(::testing::Values(LayoutCase{"cfg2", k105}, LayoutCase{"ulysses2", k105},
                                         LayoutCase{"ring2", k105}, LayoutCase{"ulysses3", k70},
                                         LayoutCase{"ring3", k70},
                                         LayoutCase{"ulysses2xring2", k105},
                                         LayoutCase{"cfg2xulysses2", k70},
                                         LayoutCase{"cfg2xring2", k105}),
                       ::testing::Bool()),
    [](const auto& info) {
      return absl::StrCat(std::get<0>(info.param).layout, "_",
                          std::get<0>(info.param).grid.frames * std::get<0>(info.param).grid.rows *
                              std::get<0>(info.param).grid.cols,
                          std::get<1>(info.param) ? "_astraea" : "_dense");
    });

TEST(ParallelFailureTest, ThePeerOfACrashedRankReportsAnErrorOnItsOwn) {
  const absl::Time start = absl::Now();
  const std::vector<RankExit> exits = Launch(ParallelLayout{1, 1, 2}, k105, OutputPrefix("crash"),
                                             /*die_rank=*/1, /*die_at_step=*/1);
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[1].exit_code, 3);
  EXPECT_EQ(exits[0].exit_code, 1) << "the surviving rank should fail its collective";
  EXPECT_FALSE(exits[0].killed) << "the surviving rank hung until the launcher killed it";
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
}

}  // namespace
}  // namespace videogen::engine::parallel

int main(int argc, char** argv) {
  if (std::getenv("VIDEOGEN_RANK") != nullptr)
    return videogen::engine::parallel::RunRank(argc, argv);
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
