// The CUDA RMSNorm + RoPE pass against the CPU reference on fresh random inputs. Needs a GPU.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/bfloat16.h"
#include "kernels/rms_norm_rope.h"
#include "kernels/rms_norm_rope_cuda.h"
#include "kernels/testing/device_memory.h"
#include "tests/testing/status_matchers.h"

namespace videogen::kernels {
namespace {

using testing::Download;
using testing::Upload;

struct Size {
  int64_t batch, tokens, hidden, head_dim, stride;
};
// Self-attention q of the fused q|k|v GEMM (stride 3D), a contiguous k, an odd small case.
const Size kSizes[] = {
    {1, 1755, 1536, 128, 3 * 1536}, {2, 300, 1536, 128, 1536}, {1, 7, 24, 12, 30}};

template <typename T>
void Check(const Size& size, bool rope, std::mt19937_64& rng) {
  SCOPED_TRACE(absl::StrCat("hidden=", size.hidden, " stride=", size.stride, " rope=", rope));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = size.batch * size.tokens;
  std::vector<T> input(rows * size.stride), weight(size.hidden);
  for (T& v : input) v = FromFloat<T>(normal(rng));
  for (T& v : weight) v = FromFloat<T>(normal(rng));
  std::vector<float> cos(size.tokens * size.head_dim), sin(cos.size());
  for (size_t i = 0; i < cos.size(); ++i) {
    const float angle = normal(rng) * 3;
    cos[i] = std::cos(angle);
    sin[i] = std::sin(angle);
  }
  RmsNormRopeArgs host_args;
  host_args.head_dim = size.head_dim;
  host_args.input_row_stride = size.stride;
  if (rope) host_args.cos = cos.data(), host_args.sin = sin.data();
  std::vector<T> expected(rows * size.hidden);
  const RowsShape shape{size.batch, size.tokens, size.hidden};
  ASSERT_OK(
      RmsNormRopeReference<T>(shape, input.data(), weight.data(), host_args, expected.data()));

  T* d_input = Upload(input);
  T* d_weight = Upload(weight);
  float* d_cos = Upload(cos);
  float* d_sin = Upload(sin);
  T* d_output = Upload(std::vector<T>(expected.size()));
  ASSERT_EQ(cudaMemset(d_output, 0xFF, expected.size() * sizeof(T)), cudaSuccess);
  RmsNormRopeArgs args = host_args;
  args.cos = rope ? d_cos : nullptr;
  args.sin = rope ? d_sin : nullptr;
  ASSERT_OK(RmsNormRopeCuda<T>(shape, d_input, d_weight, args, d_output, nullptr));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<T> got = Download(d_output, expected.size());
  // The float32 sum of squares differs from the float64 reference in the last bits, which can
  // move a rounding to T by one unit. For bf16 the normed value is rounded, then rotated and
  // rounded again: a unit moved in the normed pair (n1, n2) moves the rotated values by up to
  // |n|·(|cos| + |sin|) units, however small they are after the rotation. So the error is
  // measured against the pair's norm (the rotation keeps it): three units of it for bf16.
  const float units = std::is_same_v<T, BFloat16> ? 3.0f / 128 : 0.0f;
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = ToFloat(got[i]), e = ToFloat(expected[i]);
    const float partner = ToFloat(expected[i ^ 1]);  // Rotated together with element i.
    const float scale = std::max(std::hypot(e, partner), 1.0f);
    if (!(std::abs(g - e) <= 1e-5f * scale + units * scale)) ++bad;
  }
  EXPECT_EQ(bad, 0) << "of " << got.size();
  for (void* p :
       {static_cast<void*>(d_input), static_cast<void*>(d_weight), static_cast<void*>(d_cos),
        static_cast<void*>(d_sin), static_cast<void*>(d_output)}) {
    cudaFree(p);
  }
}

TEST(RmsNormRopeCudaTest, MatchesReference) {
  // A failure names its seed; VIDEOGEN_TEST_SEED replays it.
  const char* replay = std::getenv("VIDEOGEN_TEST_SEED");
  const uint64_t seed =
      replay != nullptr ? std::strtoull(replay, nullptr, 10) : std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed=", seed));
  std::mt19937_64 rng(seed);
  for (const Size& size : kSizes) {
    for (bool rope : {false, true}) {
      Check<float>(size, rope, rng);
      Check<BFloat16>(size, rope, rng);
    }
  }
}

}  // namespace
}  // namespace videogen::kernels
