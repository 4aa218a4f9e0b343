// The parallel engine on one GPU through NCCL: a world of one rank runs its collectives through
// ProcessGroupNCCL, and a guided denoising step through the parallel denoiser gives the
// single-GPU result bit for bit (dense and ASTRAEA, bf16).
#include <memory>
#include <optional>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "c10/core/InferenceMode.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/parallel/launcher.h"
#include "engine/parallel/parallel_context.h"
#include "engine/parallel/parallel_denoiser.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine::parallel {
namespace {

class ParallelCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(const int port, PickFreePort());
    ParallelOptions options;
    options.store_port = port;
    options.device = at::Device(at::kCUDA, 0);
    ASSERT_OK_AND_ASSIGN(context_, ParallelContext::Create(options));
  }
  std::unique_ptr<ParallelContext> context_;
};

TEST_F(ParallelCudaTest, WorldOfOneRunsCollectivesThroughNccl) {
  const at::Tensor values = at::arange(6, at::TensorOptions().device(at::kCUDA).dtype(at::kFloat));
  at::Tensor broadcast = values.clone();
  context_->Broadcast(ParallelContext::Group::kWorld, broadcast, 0);
  EXPECT_TRUE(at::equal(broadcast, values));
  at::Tensor maximum = values.clone();
  context_->AllReduce(ParallelContext::Group::kWorld, maximum, ParallelContext::Reduction::kMax);
  EXPECT_TRUE(at::equal(maximum, values));
  EXPECT_TRUE(at::equal(context_->AllGather(ParallelContext::Group::kWorld, values), values));
  EXPECT_TRUE(at::equal(context_->AllToAll(ParallelContext::Group::kWorld, values.view({1, 6})),
                        values.view({1, 6})));
}

TEST_F(ParallelCudaTest, GuidedStepEqualsTheSingleGpuStep) {
  c10::InferenceMode inference;
  wan::TransformerConfig config;
  config.num_layers = 2;
  config.ffn_dim = 1024;
  const at::Device cuda(at::kCUDA, 0);
  LoadOptions policy;
  policy.dtype = at::kBFloat16;
  policy.keep_in_fp32_modules = wan::Transformer::KeepInFp32Modules();
  at::manual_seed(3);
  ASSERT_OK_AND_ASSIGN(
      const auto model,
      wan::Transformer::Create(
          config,
          engine::testing::RandomWeights(wan::Transformer::Parameters(config), policy, cuda),
          cuda));
  ASSERT_OK_AND_ASSIGN(const auto sparse, astraea::SparseTransformer::Create(*model));
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor latents = at::randn({1, 16, 3, 30, 52}, generator).to(cuda, at::kBFloat16);
  const auto prompt =
      model->EncodeText(at::randn({1, 64, 4096}, generator).to(cuda, at::kBFloat16));
  const auto negative =
      model->EncodeText(at::randn({1, 64, 4096}, generator).to(cuda, at::kBFloat16));
  const at::Tensor t = at::full({1}, 700, at::TensorOptions().device(cuda).dtype(at::kLong));
  const ParallelDenoiser denoiser(*model, *sparse, *context_);

  // Dense.
  const at::Tensor dense_expected = [&] {
    const at::Tensor c = model->Forward(latents, t, prompt);
    const at::Tensor u = model->Forward(latents, t, negative);
    return u + 5.0 * (c - u);
  }();
  ASSERT_OK_AND_ASSIGN(const at::Tensor dense, denoiser.Predict(latents, t, {&prompt, nullptr},
                                                                {&negative, nullptr}, true, 5.0));
  EXPECT_TRUE(at::equal(dense, dense_expected));

  // ASTRAEA: a dense step, then θ = 0.4 twice.
  ASSERT_OK_AND_ASSIGN(const auto schedule, astraea::BudgetSchedule::FromLevels({10, 4, 4}));
  ASSERT_OK_AND_ASSIGN(auto c_ref, sparse->NewState(schedule));
  ASSERT_OK_AND_ASSIGN(auto u_ref, sparse->NewState(schedule));
  ASSERT_OK_AND_ASSIGN(auto c_par, sparse->NewState(schedule));
  ASSERT_OK_AND_ASSIGN(auto u_par, sparse->NewState(schedule));
  for (int step = 0; step < 3; ++step) {
    ASSERT_OK_AND_ASSIGN(const at::Tensor c, sparse->Forward(latents, t, prompt, c_ref));
    ASSERT_OK_AND_ASSIGN(const at::Tensor u, sparse->Forward(latents, t, negative, u_ref));
    ASSERT_OK_AND_ASSIGN(const at::Tensor got, denoiser.Predict(latents, t, {&prompt, &c_par},
                                                                {&negative, &u_par}, true, 5.0));
    EXPECT_TRUE(at::equal(got, u + 5.0 * (c - u))) << "step " << step;
  }
  EXPECT_EQ(c_par.tokens_computed(), c_ref.tokens_computed());
}

}  // namespace
}  // namespace videogen::engine::parallel
