#include "engine/text/umt5_config.h"
#include "engine/common/file.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/json.h"
#include "engine/common/json_config_reader.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::text {
namespace {

using Json = nlohmann::json;

// Fields of transformers' UMT5Config/PreTrainedConfig that the encoder's forward pass does not
// read (or that transformers recomputes from feed_forward_proj), as found in hub config.json files.
constexpr const char* kIgnored[] = {"architectures",
                                    "classifier_dropout",
                                    "chunk_size_feed_forward",
                                    "decoder_start_token_id",
                                    "dense_act_fn",
                                    "dropout_rate",
                                    "dtype",
                                    "initializer_factor",
                                    "is_encoder_decoder",
                                    "is_gated_act",
                                    "num_decoder_layers",
                                    "output_attentions",
                                    "output_hidden_states",
                                    "output_past",
                                    "return_dict",
                                    "scalable_attention",
                                    "tie_word_embeddings",
                                    "tokenizer_class",
                                    "torch_dtype",
                                    "transformers_version",
                                    "use_cache",
                                    "bos_token_id",
                                    "sep_token_id",
                                    "id2label",
                                    "label2id",
                                    "problem_type",
                                    "gradient_checkpointing",
                                    "use_return_dict"};

}  // namespace

absl::StatusOr<Umt5Config> ParseUmt5Config(absl::string_view text, absl::string_view source) {
  absl::StatusOr<Json> json = ParseStrictJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", json.status().message()));
  }
  if (!json->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not an object"));
  }
  static constexpr const char* kKnown[] = {"vocab_size",
                                           "d_model",
                                           "d_kv",
                                           "d_ff",
                                           "num_layers",
                                           "num_heads",
                                           "relative_attention_num_buckets",
                                           "relative_attention_max_distance",
                                           "layer_norm_epsilon",
                                           "feed_forward_proj",
                                           "model_type",
                                           "is_decoder",
                                           "pad_token_id",
                                           "eos_token_id"};
  for (const auto& [key, value] : json->items()) {
    if (absl::StartsWith(key, "_")) continue;  // _name_or_path, ...
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown) &&
        std::find(std::begin(kIgnored), std::end(kIgnored), key) == std::end(kIgnored)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unknown field \"", key, "\""));
    }
  }

  const JsonConfigReader reader(*json, source);
  VG_RETURN_IF_ERROR(reader.OnlyString("model_type", "umt5"));
  VG_RETURN_IF_ERROR(reader.OnlyString("feed_forward_proj", "gated-gelu"));
  if (const auto it = json->find("is_decoder"); it != json->end()) {
    if (!it->is_boolean()) return reader.Error("is_decoder", "must be true or false");
    if (*it == true) {
      return absl::UnimplementedError(
          absl::StrCat(source, ": is_decoder = true is not supported (encoder only)"));
    }
  }
  Umt5Config config;
  VG_RETURN_IF_ERROR(reader.Int("vocab_size", 1, int64_t{1} << 24, &config.vocab_size));
  VG_RETURN_IF_ERROR(reader.Int("d_model", 1, 1 << 16, &config.d_model));
  VG_RETURN_IF_ERROR(reader.Int("d_kv", 1, 1 << 12, &config.d_kv));
  VG_RETURN_IF_ERROR(reader.Int("d_ff", 1, 1 << 20, &config.d_ff));
  VG_RETURN_IF_ERROR(reader.Int("num_layers", 1, 1024, &config.num_layers));
  VG_RETURN_IF_ERROR(reader.Int("num_heads", 1, 1024, &config.num_heads));
  // The encoder halves the buckets per direction and keeps half of those exact: >= 4 buckets.
  VG_RETURN_IF_ERROR(reader.Int("relative_attention_num_buckets", 4, 1 << 16,
                                &config.relative_attention_num_buckets,
                                JsonConfigReader::Presence::kOptional));
  const int64_t max_exact = config.relative_attention_num_buckets / 2 / 2;
  VG_RETURN_IF_ERROR(reader.Int("relative_attention_max_distance", max_exact + 1, 1 << 24,
                                &config.relative_attention_max_distance,
                                JsonConfigReader::Presence::kOptional));
  VG_RETURN_IF_ERROR(reader.Double("layer_norm_epsilon", 0, 1, &config.layer_norm_epsilon,
                                   JsonConfigReader::Presence::kOptional));
  // Token ids may be null in transformers configs.
  for (const auto& [key, out] :
       {std::pair<const char*, int64_t*>{"pad_token_id", &config.pad_token_id},
        {"eos_token_id", &config.eos_token_id}}) {
    const auto it = json->find(key);
    if (it == json->end() || it->is_null() || it->is_array()) continue;
    VG_RETURN_IF_ERROR(reader.Int(key, 0, config.vocab_size - 1, out));
  }
  return config;
}

absl::StatusOr<Umt5Config> LoadUmt5Config(const std::string& path) {
  VG_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseUmt5Config(text, path);
}

}  // namespace videogen::engine::text
