#include "engine/wan/transformer_config.h"
#include "engine/common/file.h"


#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/json.h"
#include "engine/common/json_config_reader.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::wan {
namespace {

using Json = nlohmann::json;

}  // namespace

absl::StatusOr<TransformerConfig> ParseTransformerConfig(absl::string_view text,
                                                         absl::string_view source) {
  absl::StatusOr<Json> json = ParseStrictJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", json.status().message()));
  }
  if (!json->is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not an object"));
  static constexpr const char* kKnown[] = {"patch_size",
                                           "num_attention_heads",
                                           "attention_head_dim",
                                           "in_channels",
                                           "out_channels",
                                           "text_dim",
                                           "freq_dim",
                                           "ffn_dim",
                                           "num_layers",
                                           "cross_attn_norm",
                                           "qk_norm",
                                           "eps",
                                           "image_dim",
                                           "added_kv_proj_dim",
                                           "rope_max_seq_len",
                                           "pos_embed_seq_len"};
  for (const auto& [key, value] : json->items()) {
    if (absl::StartsWith(key, "_")) continue;  // _class_name, _diffusers_version, ...
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unknown field \"", key, "\""));
    }
  }

  const JsonConfigReader reader(*json, source);
  TransformerConfig config;
  const auto patch = json->find("patch_size");
  if (patch == json->end() || !patch->is_array() || patch->size() != 3 ||
      !std::all_of(patch->begin(), patch->end(), [](const Json& v) {
        return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= 16;
      })) {
    return reader.Error("patch_size", "must be 3 integers in [1, 16]");
  }
  config.patch_t = (*patch)[0].get<int64_t>();
  config.patch_h = (*patch)[1].get<int64_t>();
  config.patch_w = (*patch)[2].get<int64_t>();
  VG_RETURN_IF_ERROR(reader.Int("num_attention_heads", 1, 1024, &config.num_heads));
  VG_RETURN_IF_ERROR(reader.Int("attention_head_dim", 6, 1024, &config.head_dim));
  if (config.head_dim % 2 != 0 || config.rope_t_dim() % 2 != 0) {
    return reader.Error("attention_head_dim", "must split into even RoPE parts (t, h, w)");
  }
  VG_RETURN_IF_ERROR(reader.Int("in_channels", 1, 4096, &config.in_channels));
  VG_RETURN_IF_ERROR(reader.Int("out_channels", 1, 4096, &config.out_channels));
  VG_RETURN_IF_ERROR(reader.Int("text_dim", 1, 65536, &config.text_dim));
  VG_RETURN_IF_ERROR(reader.Int("freq_dim", 2, 65536, &config.freq_dim));
  if (config.freq_dim % 2 != 0) return reader.Error("freq_dim", "must be even");
  VG_RETURN_IF_ERROR(reader.Int("ffn_dim", 1, 1 << 20, &config.ffn_dim));
  VG_RETURN_IF_ERROR(reader.Int("num_layers", 1, 1024, &config.num_layers));
  VG_RETURN_IF_ERROR(reader.Bool("cross_attn_norm", &config.cross_attn_norm));
  VG_RETURN_IF_ERROR(reader.Double("eps", 0, 1, &config.eps));
  VG_RETURN_IF_ERROR(reader.Int("rope_max_seq_len", 1, 1 << 20, &config.rope_max_seq_len));
  const auto qk_norm = json->find("qk_norm");
  if (qk_norm == json->end() || *qk_norm != "rms_norm_across_heads") {
    return absl::UnimplementedError(
        absl::StrCat(source, ": qk_norm = ", qk_norm == json->end() ? "(missing)" : qk_norm->dump(),
                     " is not supported (only \"rms_norm_across_heads\")"));
  }
  for (const char* key : {"image_dim", "added_kv_proj_dim", "pos_embed_seq_len"}) {
    VG_RETURN_IF_ERROR(reader.AbsentOrNull(key, "image-to-video"));
  }
  return config;
}

absl::StatusOr<TransformerConfig> LoadTransformerConfig(const std::string& path) {
  VG_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseTransformerConfig(text, path);
}

}  // namespace videogen::engine::wan
