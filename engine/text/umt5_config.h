// Architecture of a transformers UMT5EncoderModel, read from the `text_encoder/config.json` of a
// diffusers-format Wan2.1 checkpoint (umT5-XXL there: d_model 4096, 24 layers, 64 heads of 64).
#ifndef VIDEOGEN_ENGINE_TEXT_UMT5_CONFIG_H_
#define VIDEOGEN_ENGINE_TEXT_UMT5_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::text {

struct Umt5Config {
  int64_t vocab_size = 256384;  // Rows of the token embedding.
  int64_t d_model = 4096;
  int64_t d_kv = 64;  // Width of one attention head.
  int64_t d_ff = 10240;
  int64_t num_layers = 24;
  int64_t num_heads = 64;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  // Informational (the tokenizer decides what it emits).
  int64_t pad_token_id = 0;
  int64_t eos_token_id = 1;

  int64_t inner_dim() const { return num_heads * d_kv; }
};

// Parses config.json text. Required: vocab_size, d_model, d_kv, d_ff, num_layers, num_heads; the
// others default as in transformers' UMT5Config (buckets 32, max distance 128, epsilon 1e-6,
// feed_forward_proj "gated-gelu"). INVALID_ARGUMENT naming the field for a missing, ill-typed,
// out-of-range or unknown field; UNIMPLEMENTED naming the field for model_type other than "umt5"
// (T5/mT5 share one position bias), is_decoder true, or feed_forward_proj other than
// "gated-gelu". Fields transformers recomputes or that do not affect the encoder's forward pass
// (dense_act_fn, is_gated_act, tie_word_embeddings, dropout, dtype, ...) are accepted and ignored.
// `source` names the file in messages.
absl::StatusOr<Umt5Config> ParseUmt5Config(absl::string_view json, absl::string_view source);

// Reads and parses `path`; NOT_FOUND if unreadable.
absl::StatusOr<Umt5Config> LoadUmt5Config(const std::string& path);

}  // namespace videogen::engine::text

#endif  // VIDEOGEN_ENGINE_TEXT_UMT5_CONFIG_H_
