// The sparse transformer on the GPU with the fused attention kernel (bf16, cuDNN): the dense
// schedule is Transformer::Forward bit for bit; asking the kernel for the log-sum-exp does not
// change the block's output; the sparse-query block's rows match the dense block's rows; and the
// log-sum-exp matches a float32 computation of it.
#include <memory>

#include "ATen/ATen.h"
#include "c10/core/InferenceMode.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/wan/transformer.h"
#include "engine/weights/testing/random_weights.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/tensor_compare.h"

namespace videogen::engine::astraea {
namespace {

using ::videogen::testing::RelativeError;

class SparseTransformerCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two blocks of the 1.3B width (head_dim 128: the cuDNN path) on a small grid.
    config_.num_layers = 2;
    LoadOptions policy;
    policy.dtype = at::kBFloat16;
    policy.keep_in_fp32_modules = wan::Transformer::KeepInFp32Modules();
    const at::Device cuda(at::kCUDA);
    at::manual_seed(3);
    ASSERT_OK_AND_ASSIGN(model_, wan::Transformer::Create(
                                     config_,
                                     testing::RandomWeights(wan::Transformer::Parameters(config_),
                                                            policy, cuda, 0.05),
                                     cuda));
    const auto options = at::TensorOptions().device(cuda);
    latents_ = at::randn({1, 16, 3, 16, 32}, options).to(at::kBFloat16);  // 384 tokens.
    text_ = at::randn({1, 64, 4096}, options).to(at::kBFloat16);
    timestep_ = at::full({1}, 700, options.dtype(at::kLong));
  }

  wan::TransformerConfig config_;
  std::unique_ptr<wan::Transformer> model_;
  at::Tensor latents_, text_, timestep_;
};

TEST_F(SparseTransformerCudaTest, DenseScheduleIsTheDenseModelExactly) {
  c10::InferenceMode inference;
  ASSERT_OK_AND_ASSIGN(const auto sparse, SparseTransformer::Create(*model_));
  ASSERT_OK_AND_ASSIGN(const BudgetSchedule dense, BudgetSchedule::Dense(2));
  ASSERT_OK_AND_ASSIGN(SparseState state, sparse->NewState(dense));
  for (int step = 0; step < 2; ++step) {
    ASSERT_OK_AND_ASSIGN(const at::Tensor out,
                         sparse->Forward(latents_, timestep_, model_->EncodeText(text_), state));
    EXPECT_TRUE(at::equal(out, model_->Forward(latents_, timestep_, text_)));
  }
}

TEST_F(SparseTransformerCudaTest, SparseBlockRowsAndLseMatchTheDenseBlock) {
  c10::InferenceMode inference;
  const wan::Transformer::Rope rope = model_->RotaryEmbedding(model_->GridOf(latents_));
  const wan::Transformer::Conditioning conditioning = model_->Condition(timestep_, text_);
  const at::Tensor hidden = model_->PatchEmbed(latents_);
  const at::Tensor dense = model_->Block(0, hidden, conditioning, rope);

  at::Tensor lse;
  const at::Tensor with_lse = model_->SparseBlock(0, hidden, {}, conditioning, rope, &lse);
  EXPECT_TRUE(at::equal(with_lse, dense));
  ASSERT_EQ(lse.sizes(), (std::vector<int64_t>{1, 384}));

  const at::Tensor selected = at::arange(0, 384, 3, hidden.options().dtype(at::kLong));
  at::Tensor selected_lse;
  const at::Tensor rows =
      model_->SparseBlock(0, hidden, selected, conditioning, rope, &selected_lse);
  // Each computed row is exact attention: the dense rows up to bf16 GEMM rounding.
  EXPECT_LT(RelativeError(rows, dense.index_select(1, selected), "rows"), 1e-2);
  EXPECT_LT(RelativeError(selected_lse, lse.index_select(1, selected), "lse"), 1e-3);
}

}  // namespace
}  // namespace videogen::engine::astraea
