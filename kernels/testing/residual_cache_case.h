// Random inputs for the residual-cache merge (kernels/residual_cache.h), shared by the reference
// test and the GPU test. Testing only.
#ifndef VIDEOGEN_KERNELS_TESTING_RESIDUAL_CACHE_CASE_H_
#define VIDEOGEN_KERNELS_TESTING_RESIDUAL_CACHE_CASE_H_

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/bfloat16.h"
#include "kernels/residual_cache.h"

namespace videogen::kernels::testing {

template <typename T>
struct ResidualCacheCase {
  ResidualCacheShape shape;
  std::vector<T> input;
  std::vector<T> computed;
  std::vector<int32_t> slot;
  std::vector<T> cache;
};

// `num_computed` distinct tokens, chosen at random, get the computed rows in random order; the
// values are normal(0, 1) so sums and differences exercise rounding.
template <typename T>
ResidualCacheCase<T> MakeResidualCacheCase(int64_t num_tokens, int64_t hidden, int64_t num_computed,
                                           std::mt19937_64& rng) {
  ResidualCacheCase<T> c;
  c.shape = {num_tokens, hidden, num_computed};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::vector<T>& values, int64_t size) {
    values.resize(size);
    for (T& v : values) v = FromFloat<T>(normal(rng));
  };
  fill(c.input, num_tokens * hidden);
  fill(c.computed, num_computed * hidden);
  fill(c.cache, num_tokens * hidden);
  std::vector<int32_t> tokens(num_tokens);
  std::iota(tokens.begin(), tokens.end(), 0);
  std::shuffle(tokens.begin(), tokens.end(), rng);
  c.slot.assign(num_tokens, -1);
  for (int64_t j = 0; j < num_computed; ++j) c.slot[tokens[j]] = static_cast<int32_t>(j);
  return c;
}

}  // namespace videogen::kernels::testing

#endif  // VIDEOGEN_KERNELS_TESTING_RESIDUAL_CACHE_CASE_H_
