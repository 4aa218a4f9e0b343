#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/token_topk.h"

namespace videogen::kernels {
namespace {

// The score as the header specifies it, one rounding per operation.
float Score(const TokenTopKShape& shape, const float* lse, const float* now, const float* last,
            const int32_t* skip, const TokenTopKParams& params, int64_t t) {
  float sum = 0;
  for (int64_t j = 0; j < shape.sketch_dim; ++j) {
    const float diff = now[t * shape.sketch_dim + j] - last[t * shape.sketch_dim + j];
    const float square = diff * diff;
    sum = sum + square;
  }
  const float delta = sum * params.delta_scale;
  const float weighted = params.w_alpha * lse[t];
  const float significance = weighted * delta;
  const int32_t steps = std::min(std::max(skip[t], 0), kMaxPenaltySteps);
  const float penalty = params.w_beta * params.penalty[steps];
  const float score = significance + penalty;
  if (std::isnan(score)) return -std::numeric_limits<float>::infinity();
  return score + 0.0f;  // -0 -> +0.
}

}  // namespace

TokenTopKParams TokenTopKParams::Make(float w_alpha, float w_beta, float delta_scale) {
  TokenTopKParams params;
  params.w_alpha = w_alpha;
  params.w_beta = w_beta;
  params.delta_scale = delta_scale;
  for (int n = 0; n <= kMaxPenaltySteps; ++n) params.penalty[n] = static_cast<float>(std::exp(n));
  return params;
}

absl::Status ValidateTokenTopKArgs(const TokenTopKShape& shape, const float* lse,
                                   const float* sketch_now, const float* sketch_last,
                                   const int32_t* skip, const int64_t* selected,
                                   const int32_t* slot) {
  if (shape.num_tokens < 0 || shape.num_tokens > std::numeric_limits<int32_t>::max() ||
      shape.sketch_dim < 1 || shape.k < 0 || shape.k > shape.num_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token top-k: bad shape num_tokens=", shape.num_tokens, " sketch_dim=", shape.sketch_dim,
        " k=", shape.k, " (need 0 <= k <= num_tokens < 2^31, sketch_dim >= 1)"));
  }
  if (shape.num_tokens > 0 &&
      (lse == nullptr || sketch_now == nullptr || sketch_last == nullptr || skip == nullptr ||
       slot == nullptr || (shape.k > 0 && selected == nullptr))) {
    return absl::InvalidArgumentError("token top-k: null buffer");
  }
  return absl::OkStatus();
}

absl::Status TokenTopKReference(const TokenTopKShape& shape, const float* lse,
                                const float* sketch_now, const float* sketch_last,
                                const int32_t* skip, const TokenTopKParams& params,
                                int64_t* selected, int32_t* slot) {
  if (absl::Status status =
          ValidateTokenTopKArgs(shape, lse, sketch_now, sketch_last, skip, selected, slot);
      !status.ok()) {
    return status;
  }
  const int64_t n = shape.num_tokens;
  std::vector<float> score(n);
  for (int64_t t = 0; t < n; ++t) {
    score[t] = Score(shape, lse, sketch_now, sketch_last, skip, params, t);
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Higher score first; equal scores (+0 and -0 are one value here) by lower index.
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return score[a] > score[b]; });
  std::vector<bool> chosen(n, false);
  for (int64_t i = 0; i < shape.k; ++i) chosen[order[i]] = true;
  int32_t position = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (chosen[t]) {
      selected[position] = t;
      slot[t] = position++;
    } else {
      slot[t] = -1;
    }
  }
  return absl::OkStatus();
}

}  // namespace videogen::kernels
