// The FLOPs model against the seed's appendix A.3 formulas written out by hand.
#include "engine/accel/work.h"

#include "gtest/gtest.h"

namespace videogen::engine::accel {
namespace {

wan::TransformerConfig Wan13B() {
  wan::TransformerConfig config;  // Its defaults are Wan2.1-T2V-1.3B's.
  return config;
}

TEST(WorkTest, DenseBlockIsTheSeedsFormulas) {
  const wan::TransformerConfig config = Wan13B();
  const double n = 32760, d = 1536, l = 512, f = 8960;
  const double self_attention = 8 * n * d * d + 4 * n * n * d;         // A.3.1, eq. 10
  const double cross = 4 * n * d * d + 4 * l * d * d + 4 * n * l * d;  // A.3.2
  const double mlp = 2 * (2 * n * d * f);                              // A.3.3 with F = 8960
  EXPECT_DOUBLE_EQ(BlockFlops(config, 512, DenseBlockWork(32760)), self_attention + cross + mlp);
  EXPECT_DOUBLE_EQ(DenseForwardFlops(config, 32760, 512), 30 * (self_attention + cross + mlp));
}

TEST(WorkTest, SkippedBranchesCostNothingAndPartialRowsScale) {
  const wan::TransformerConfig config = Wan13B();
  EXPECT_EQ(BlockFlops(config, 512, BlockWork{}), 0.0);
  const double d = 1536;
  // Sparse queries: K/V of all 1000 tokens, the rest on 100 rows.
  BlockWork sparse{100, 1000, 0, 0};
  EXPECT_DOUBLE_EQ(BlockFlops(config, 512, sparse),
                   4 * 100 * d * d + 4 * 1000 * d * d + 4 * 100 * 1000 * d);
  EXPECT_DOUBLE_EQ(BlockFlops(config, 512, SparseBlockWork(1000, 100)),
                   BlockFlops(config, 512, BlockWork{100, 1000, 100, 100}));
  EXPECT_EQ(BlockFlops(config, 512, SparseBlockWork(1000, 0)), 0.0);
  EXPECT_DOUBLE_EQ(BlockFlops(config, 512, SparseBlockWork(1000, 1000)),
                   BlockFlops(config, 512, DenseBlockWork(1000)));
  BlockWork mlp_only{0, 0, 0, 10};
  EXPECT_DOUBLE_EQ(BlockFlops(config, 512, mlp_only), 4 * 10 * d * 8960);
  BlockWork cross_only{0, 0, 10, 0};
  EXPECT_DOUBLE_EQ(BlockFlops(config, 7, cross_only),
                   4 * 10 * d * d + 4 * 7 * d * d + 4 * 10 * 7 * d);
}

}  // namespace
}  // namespace videogen::engine::accel
