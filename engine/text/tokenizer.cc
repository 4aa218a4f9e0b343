#include "engine/text/tokenizer.h"
#include "engine/common/file.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/text/internal/sentencepiece_model.h"
#include "engine/text/prompt_clean.h"

namespace videogen::engine::text {
namespace {

using Json = nlohmann::json;
using internal::PieceType;
using internal::SentencePieceModel;

// The special tokens a tokenizer_config.json asks for, with T5Tokenizer's defaults.
struct SpecialTokens {
  std::optional<std::string> eos = "</s>", unk = "<unk>", pad = "<pad>", bos;
  int64_t extra_ids = 100;
  std::vector<std::string> additional;
  std::map<std::string, int64_t> added;  // added_tokens_decoder: spelling -> id.
};

// A token entry: a string, an AddedToken-like object with "content", or null.
absl::Status TokenSpelling(const Json& value, const std::string& where,
                           std::optional<std::string>* out) {
  if (value.is_null()) {
    out->reset();
  } else if (value.is_string()) {
    *out = value.get<std::string>();
  } else if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    *out = value["content"].get<std::string>();
  } else {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not a token string"));
  }
  if (out->has_value() && (*out)->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is empty"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SpecialTokens> ParseTokenizerConfig(absl::string_view text,
                                                   const std::string& source) {
  absl::StatusOr<Json> json = ParseStrictJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", json.status().message()));
  }
  if (!json->is_object()) return absl::InvalidArgumentError(source + ": not an object");
  SpecialTokens tokens;
  const std::pair<const char*, std::optional<std::string>*> named[] = {{"eos_token", &tokens.eos},
                                                                       {"unk_token", &tokens.unk},
                                                                       {"pad_token", &tokens.pad},
                                                                       {"bos_token", &tokens.bos}};
  for (const auto& [key, out] : named) {
    if (json->contains(key)) {
      VG_RETURN_IF_ERROR(TokenSpelling((*json)[key], absl::StrCat(source, ": ", key), out));
    }
  }
  if (json->contains("extra_ids")) {
    const Json& extra = (*json)["extra_ids"];
    if (!extra.is_number_integer() || extra.get<int64_t>() < 0 ||
        extra.get<int64_t>() > (1 << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": extra_ids must be an integer in [0, 1048576]"));
    }
    tokens.extra_ids = extra.get<int64_t>();
  }
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (!json->contains(key) || (*json)[key].is_null()) continue;
    const Json& list = (*json)[key];
    if (!list.is_array() && !list.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", key, " must be a list"));
    }
    for (const Json& entry : list) {
      std::optional<std::string> spelling;
      VG_RETURN_IF_ERROR(
          TokenSpelling(entry, absl::StrCat(source, ": ", key, " entry"), &spelling));
      if (spelling.has_value()) tokens.additional.push_back(*spelling);
    }
  }
  if (json->contains("added_tokens_decoder")) {
    const Json& decoder = (*json)["added_tokens_decoder"];
    if (!decoder.is_object()) {
      return absl::InvalidArgumentError(source + ": added_tokens_decoder must be an object");
    }
    for (const auto& [key, entry] : decoder.items()) {
      const std::string where = absl::StrCat(source, ": added_tokens_decoder[", key, "]");
      int64_t id;
      if (!absl::SimpleAtoi(key, &id) || id < 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": key is not a token id"));
      }
      std::optional<std::string> spelling;
      VG_RETURN_IF_ERROR(TokenSpelling(entry, where, &spelling));
      if (!spelling.has_value()) continue;
      if (entry.is_object() && entry.contains("single_word") && entry["single_word"] == true) {
        return absl::UnimplementedError(
            absl::StrCat(where, ": single_word added tokens are not supported"));
      }
      tokens.added[*spelling] = id;
    }
  }
  return tokens;
}

// "<extra_id_N>" -> N, or -1.
int64_t SentinelIndex(absl::string_view spelling) {
  int64_t index;
  if (!absl::ConsumePrefix(&spelling, "<extra_id_") || !absl::ConsumeSuffix(&spelling, ">") ||
      spelling.empty() || !std::all_of(spelling.begin(), spelling.end(), absl::ascii_isdigit) ||
      (spelling.size() > 1 && spelling[0] == '0') || !absl::SimpleAtoi(spelling, &index)) {
    return -1;
  }
  return index;
}

}  // namespace

Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& dir) {
  const std::string model_path = dir + "/spiece.model";
  VG_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(model_path));
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  std::string error;
  tokenizer->model_ = SentencePieceModel::Load(bytes, &error);
  if (tokenizer->model_ == nullptr) {
    return absl::DataLossError(absl::StrCat(model_path, ": ", error));
  }
  const SentencePieceModel& model = *tokenizer->model_;
  for (int id = 0; id < model.size(); ++id) {
    if (model.type(id) == PieceType::kUserDefined || model.type(id) == PieceType::kUnused) {
      return absl::UnimplementedError(
          absl::StrCat(model_path, ": piece ", id, " \"", model.piece(id), "\" is ",
                       model.type(id) == PieceType::kUnused ? "unused" : "user-defined",
                       "; transformers segments such models differently"));
    }
  }
  if (!model.add_dummy_prefix() || !model.remove_extra_whitespaces()) {
    return absl::UnimplementedError(
        absl::StrCat(model_path,
                     ": models without add_dummy_prefix and remove_extra_whitespaces are not "
                     "supported (transformers always splits on whitespace and prefixes \"▁\")"));
  }

  SpecialTokens tokens;
  const std::string config_path = dir + "/tokenizer_config.json";
  // Optional: without it, T5Tokenizer's defaults.
  if (const absl::StatusOr<std::string> config = ReadFile(config_path); config.ok()) {
    VG_ASSIGN_OR_RETURN(tokens, ParseTokenizerConfig(*config, config_path));
  }
  const int64_t spm_size = model.size();
  auto id_of = [&](const std::string& spelling) -> absl::StatusOr<int64_t> {
    if (const auto it = tokens.added.find(spelling); it != tokens.added.end()) return it->second;
    if (const int id = model.Find(spelling); id >= 0) return id;
    const int64_t sentinel = SentinelIndex(spelling);
    if (sentinel >= 0 && sentinel < tokens.extra_ids) {
      return spm_size + tokens.extra_ids - 1 - sentinel;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(config_path, ": special token \"", spelling, "\" is neither in ", model_path,
                     " nor a sentinel <extra_id_N> with N < extra_ids (", tokens.extra_ids, ")"));
  };

  std::map<std::string, int64_t> specials(tokens.added.begin(), tokens.added.end());
  for (const auto* named : {&tokens.eos, &tokens.unk, &tokens.pad, &tokens.bos}) {
    if (named->has_value()) {
      VG_ASSIGN_OR_RETURN(specials[**named], id_of(**named));
    }
  }
  for (int64_t i = 0; i < tokens.extra_ids; ++i) {
    const std::string sentinel = absl::StrCat("<extra_id_", i, ">");
    VG_ASSIGN_OR_RETURN(specials[sentinel], id_of(sentinel));
  }
  for (const std::string& spelling : tokens.additional) {
    VG_ASSIGN_OR_RETURN(specials[spelling], id_of(spelling));
  }
  if (!tokens.eos.has_value() || !tokens.pad.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path, ": eos_token and pad_token must be set (the pipeline appends ",
                     "\"</s>\" and pads to max_length)"));
  }
  tokenizer->eos_id_ = specials.at(*tokens.eos);
  tokenizer->pad_id_ = specials.at(*tokens.pad);
  tokenizer->vocab_size_ = spm_size + tokens.extra_ids;
  for (const auto& [spelling, id] : specials) {
    tokenizer->vocab_size_ = std::max(tokenizer->vocab_size_, id + 1);
    tokenizer->specials_.emplace_back(spelling, id);
  }
  for (const auto& [spelling, id] : tokenizer->specials_) {
    tokenizer->special_first_bytes_[static_cast<uint8_t>(spelling[0])] = true;
  }
  std::stable_sort(tokenizer->specials_.begin(), tokenizer->specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (int id = 0; id < model.size(); ++id) {
    const PieceType type = model.type(id);
    if ((type == PieceType::kControl || type == PieceType::kByte || type == PieceType::kUnknown) &&
        !specials.count(model.piece(id)) && !model.piece(id).empty()) {
      tokenizer->unsupported_.push_back(model.piece(id));
    }
  }
  return tokenizer;
}

absl::StatusOr<std::vector<int64_t>> Tokenizer::Tokenize(absl::string_view cleaned) const {
  std::vector<int64_t> ids;
  auto encode_text = [&](absl::string_view text) -> absl::Status {
    for (const std::string& spelling : unsupported_) {
      if (absl::StrContains(text, spelling)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt contains \"", spelling,
            "\", which transformers would match as a vocabulary piece; not supported"));
      }
    }
    // transformers has no byte fallback and fuses adjacent unknown characters into one token,
    // as SentencePieceModel reports them.
    for (const int piece : model_->Encode(std::string_view(text.data(), text.size()))) {
      ids.push_back(model_->type(piece) == PieceType::kUnknown ? kUnknownId : piece);
    }
    return absl::OkStatus();
  };
  // Added tokens first, leftmost-longest (specials_ is sorted longest first).
  size_t start = 0;
  for (size_t i = 0; i < cleaned.size();) {
    if (!special_first_bytes_[static_cast<uint8_t>(cleaned[i])]) {
      ++i;
      continue;
    }
    const auto special = std::find_if(specials_.begin(), specials_.end(), [&](const auto& s) {
      return absl::StartsWith(cleaned.substr(i), s.first);
    });
    if (special == specials_.end()) {
      ++i;
      continue;
    }
    VG_RETURN_IF_ERROR(encode_text(cleaned.substr(start, i - start)));
    ids.push_back(special->second);
    i += special->first.size();
    start = i;
  }
  VG_RETURN_IF_ERROR(encode_text(cleaned.substr(start)));
  return ids;
}

absl::StatusOr<Tokenizer::Encoding> Tokenizer::Encode(absl::string_view prompt,
                                                      int64_t max_length) const {
  if (max_length < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_length ", max_length, " < 1"));
  }
  Encoding encoding;
  VG_ASSIGN_OR_RETURN(encoding.cleaned, CleanPrompt(prompt));
  VG_ASSIGN_OR_RETURN(encoding.ids, Tokenize(encoding.cleaned));
  const size_t keep = static_cast<size_t>(max_length - 1);
  encoding.truncated = encoding.ids.size() > keep;
  if (encoding.truncated) encoding.ids.resize(keep);
  encoding.ids.push_back(eos_id_);
  encoding.length = static_cast<int64_t>(encoding.ids.size());
  encoding.mask.assign(encoding.ids.size(), 1);
  encoding.ids.resize(max_length, pad_id_);
  encoding.mask.resize(max_length, 0);
  return encoding;
}

}  // namespace videogen::engine::text
