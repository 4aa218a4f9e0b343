// Architecture of a WanTransformer3DModel (text-to-video), read from the `transformer/config.json`
// of a diffusers-format Wan2.1 checkpoint.
#ifndef VIDEOGEN_ENGINE_WAN_TRANSFORMER_CONFIG_H_
#define VIDEOGEN_ENGINE_WAN_TRANSFORMER_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::wan {

struct TransformerConfig {
  // Patch size (frames, rows, columns) of the 3-D patch embedding.
  int64_t patch_t = 1, patch_h = 2, patch_w = 2;
  int64_t num_heads = 12;
  int64_t head_dim = 128;
  int64_t in_channels = 16;
  int64_t out_channels = 16;
  int64_t text_dim = 4096;  // Width of the text encoder's output.
  int64_t freq_dim = 256;   // Width of the timestep sinusoid.
  int64_t ffn_dim = 8960;
  int64_t num_layers = 30;
  bool cross_attn_norm = true;
  double eps = 1e-6;
  int64_t rope_max_seq_len = 1024;

  int64_t dim() const { return num_heads * head_dim; }
  // Head dimensions rotated by frame, row and column position (RoPE); they sum to head_dim.
  int64_t rope_h_dim() const { return 2 * (head_dim / 6); }
  int64_t rope_w_dim() const { return rope_h_dim(); }
  int64_t rope_t_dim() const { return head_dim - rope_h_dim() - rope_w_dim(); }
};

// Parses config.json text. INVALID_ARGUMENT naming the field for a missing/ill-typed/out-of-range
// value; UNIMPLEMENTED for image-to-video features (image_dim, added_kv_proj_dim,
// pos_embed_seq_len) and q/k norms other than "rms_norm_across_heads". `source` names the file.
absl::StatusOr<TransformerConfig> ParseTransformerConfig(absl::string_view json,
                                                         absl::string_view source);

// Reads and parses `path`; NOT_FOUND if unreadable.
absl::StatusOr<TransformerConfig> LoadTransformerConfig(const std::string& path);

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_TRANSFORMER_CONFIG_H_
