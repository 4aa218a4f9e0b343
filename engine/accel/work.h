// What a transformer forward computed, block by block, and its floating-point operations by the
// seed's analytic model (appendix A.3), so that acceleration policies that skip different parts
// of the model (whole steps, blocks, attention branches, token rows) are compared on one scale.
//
// Per block, with D the model width, F the feed-forward width and L the text tokens:
//   self-attention:  2·q·D² (Q) + 4·k·D² (K, V) + 4·q·k·D (scores, A·V) + 2·q·D² (output)
//   cross-attention: 4·c·D² (Q, output) + 4·L·D² (K, V of the text) + 4·c·L·D
//   feed-forward:    4·f·D·F (two linear layers)
// for q self-attention query rows over k key/value rows, c cross-attention rows and f
// feed-forward rows. A dense block (q = k = c = f = N) gives A.3's 8ND² + 4N²D for its
// self-attention and A.3.2's formula for the cross-attention; its MLP term is A.3.3's 16ND² with
// the model's own F instead of 4D. Norms, modulation, embeddings and the head are left out, as
// in A.3. The text's K/V are counted at every forward as A.3.2 does, although the engine
// computes them once per job.
#ifndef VIDEOGEN_ENGINE_ACCEL_WORK_H_
#define VIDEOGEN_ENGINE_ACCEL_WORK_H_

#include <cstdint>

#include "engine/wan/transformer_config.h"

namespace videogen::engine::accel {

// One block's computed rows in one forward (0 rows: the branch was reused or skipped).
struct BlockWork {
  int64_t self_attention_queries = 0;
  int64_t self_attention_keys = 0;
  int64_t cross_attention_rows = 0;
  int64_t feed_forward_rows = 0;
};

// Every branch of a block over all `tokens`.
BlockWork DenseBlockWork(int64_t tokens);
// ASTRAEA's sparse-query block (Transformer::SparseBlock) computing `selected` of `tokens`
// (0 <= selected <= tokens): keys and values of all tokens, the rest on the selected rows; no
// work at all when nothing is selected (the block is skipped).
BlockWork SparseBlockWork(int64_t tokens, int64_t selected);

// The operations of `work` on a model of `config` with `text_tokens` text tokens (the
// cross-attention's K/V are counted only if the block computed any cross-attention row).
double BlockFlops(const wan::TransformerConfig& config, int64_t text_tokens, const BlockWork& work);

// A dense forward: num_layers dense blocks.
double DenseForwardFlops(const wan::TransformerConfig& config, int64_t tokens, int64_t text_tokens);

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_WORK_H_
