// ASTRAEA's per-block token selection: score every token and pick the k best.
//
// For each token t of N, with the sketches of its block input now (`sketch_now`) and at its last
// computation (`sketch_last`), [N, sketch_dim] row-major float32:
//
//   delta[t] = delta_scale · Σ_j (sketch_now[t][j] − sketch_last[t][j])²    (j in order)
//   score[t] = (w_alpha · lse[t]) · delta[t] + w_beta · penalty[min(skip[t], kMaxPenaltySteps)]
//
// with penalty[n] = exp(n) rounded to float32 (TokenTopKParams::Make fills it), every product and
// sum rounded to float32 in this order (no fused multiply-adds), NaN scored as −inf and −0 as +0.
// The k tokens with the highest scores are selected, ties going to the lower index. Outputs:
// `selected` [k] int64, the chosen tokens in ascending order, and `slot` [N] int32, each token's
// position in `selected` or −1 (the slots of kernels/residual_cache.h). The CPU reference and the
// CUDA version (token_topk_cuda.h) produce identical outputs.
#ifndef VIDEOGEN_KERNELS_TOKEN_TOPK_H_
#define VIDEOGEN_KERNELS_TOKEN_TOPK_H_

#include <cstdint>

#include "absl/status/status.h"

namespace videogen::kernels {

inline constexpr int kMaxPenaltySteps = 64;  // exp(64) ~ 6e27 is still finite in float32.

struct TokenTopKShape {
  int64_t num_tokens = 0;  // N, at most 2^31 − 1.
  int64_t sketch_dim = 0;  // At least 1.
  int64_t k = 0;           // In [0, N].
};

struct TokenTopKParams {
  float w_alpha = 1, w_beta = 1, delta_scale = 1;
  float penalty[kMaxPenaltySteps + 1] = {};
  // Params with penalty[n] = float(exp(n)).
  static TokenTopKParams Make(float w_alpha, float w_beta, float delta_scale);
};

// Argument checks shared by the reference and the CUDA version: INVALID_ARGUMENT for a bad shape
// or a null buffer.
absl::Status ValidateTokenTopKArgs(const TokenTopKShape& shape, const float* lse,
                                   const float* sketch_now, const float* sketch_last,
                                   const int32_t* skip, const int64_t* selected,
                                   const int32_t* slot);

// CPU reference.
absl::Status TokenTopKReference(const TokenTopKShape& shape, const float* lse,
                                const float* sketch_now, const float* sketch_last,
                                const int32_t* skip, const TokenTopKParams& params,
                                int64_t* selected, int32_t* slot);

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_TOKEN_TOPK_H_
