#include "engine/accel/work.h"

namespace videogen::engine::accel {

BlockWork DenseBlockWork(int64_t tokens) { return {tokens, tokens, tokens, tokens}; }

BlockWork SparseBlockWork(int64_t tokens, int64_t selected) {
  if (selected == 0) return {};
  return {selected, tokens, selected, selected};
}

double BlockFlops(const wan::TransformerConfig& config, int64_t text_tokens,
                  const BlockWork& work) {
  const double d = static_cast<double>(config.dim());
  const double f = static_cast<double>(config.ffn_dim);
  const double l = static_cast<double>(text_tokens);
  const double q = static_cast<double>(work.self_attention_queries);
  const double k = static_cast<double>(work.self_attention_keys);
  const double c = static_cast<double>(work.cross_attention_rows);
  const double self_attention = 4 * q * d * d + 4 * k * d * d + 4 * q * k * d;
  const double cross_attention = c > 0 ? 4 * c * d * d + 4 * l * d * d + 4 * c * l * d : 0.0;
  const double feed_forward = 4 * static_cast<double>(work.feed_forward_rows) * d * f;
  return self_attention + cross_attention + feed_forward;
}

double DenseForwardFlops(const wan::TransformerConfig& config, int64_t tokens,
                         int64_t text_tokens) {
  return static_cast<double>(config.num_layers) *
         BlockFlops(config, text_tokens, DenseBlockWork(tokens));
}

}  // namespace videogen::engine::accel
