#include "engine/text/internal/sentencepiece_model.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

namespace videogen::engine::text::internal {
namespace {

// Field numbers of sentencepiece_model.proto used here.
constexpr uint32_t kModelPieces = 1;          // ModelProto.pieces (message, repeated)
constexpr uint32_t kModelTrainerSpec = 2;     // ModelProto.trainer_spec (message)
constexpr uint32_t kModelNormalizerSpec = 3;  // ModelProto.normalizer_spec (message)
constexpr uint32_t kPiecePiece = 1;           // SentencePiece.piece (string)
constexpr uint32_t kPieceScore = 2;           // SentencePiece.score (float)
constexpr uint32_t kPieceType = 3;            // SentencePiece.type (enum)
constexpr uint32_t kTrainerModelType = 3;     // TrainerSpec.model_type (enum, UNIGRAM = 1)
constexpr uint32_t kTrainerWhitespaceAsSuffix = 24;  // TrainerSpec.treat_whitespace_as_suffix
constexpr uint32_t kTrainerByteFallback = 35;        // TrainerSpec.byte_fallback (bool)
constexpr uint32_t kNormalizerCharsmap = 2;          // NormalizerSpec.precompiled_charsmap
constexpr uint32_t kNormalizerAddDummyPrefix = 3;    // NormalizerSpec.add_dummy_prefix
constexpr uint32_t kNormalizerRemoveExtraWhitespaces = 4;
constexpr uint32_t kNormalizerEscapeWhitespaces = 5;

constexpr uint64_t kUnigram = 1;
// SentencePiece's penalty of an unknown character below the lowest piece score.
constexpr float kUnknownPenalty = 10.0f;
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁"
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// One field of a serialized protobuf message.
struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t value = 0;        // Varint or fixed-width value.
  std::string_view payload;  // Length-delimited content.
};

bool ReadVarint(std::string_view data, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= data.size()) return false;
    const auto byte = static_cast<uint8_t>(data[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (byte < 0x80) return true;
  }
  return false;
}

uint64_t ReadLittleEndian(std::string_view data, size_t pos, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | static_cast<uint8_t>(data[pos + i]);
  return value;
}

// Splits `message` into fields; false if it is not well-formed.
bool ReadFields(std::string_view message, std::vector<Field>* fields) {
  size_t pos = 0;
  while (pos < message.size()) {
    uint64_t key;
    if (!ReadVarint(message, &pos, &key)) return false;
    Field field;
    field.number = static_cast<uint32_t>(key >> 3);
    field.wire_type = static_cast<uint32_t>(key & 7);
    switch (field.wire_type) {
      case 0:
        if (!ReadVarint(message, &pos, &field.value)) return false;
        break;
      case 1:
      case 5: {
        const int bytes = field.wire_type == 1 ? 8 : 4;
        if (message.size() - pos < static_cast<size_t>(bytes)) return false;
        field.value = ReadLittleEndian(message, pos, bytes);
        pos += bytes;
        break;
      }
      case 2: {
        uint64_t length;
        if (!ReadVarint(message, &pos, &length) || length > message.size() - pos) return false;
        field.payload = message.substr(pos, length);
        pos += length;
        break;
      }
      default:
        return false;
    }
    fields->push_back(field);
  }
  return true;
}

// The byte length of the UTF-8 character starting with `lead`, as SentencePiece counts it
// (continuation and invalid lead bytes count 1).
int OneCharLength(char lead) {
  static constexpr int kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[static_cast<uint8_t>(lead) >> 4];
}

// The length of the well-formed UTF-8 character at the start of `text`, or 0.
size_t ValidCharLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code = code << 6 | (byte(i) & 0x3F);
  }
  static constexpr uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

// A Darts-clone double-array unit.
bool HasLeaf(uint32_t unit) { return (unit >> 8) & 1; }
uint32_t Value(uint32_t unit) { return unit & 0x7FFFFFFF; }
uint32_t Label(uint32_t unit) { return unit & 0x800000FF; }
uint32_t Offset(uint32_t unit) { return (unit >> 10) << ((unit & 0x200) >> 6); }

}  // namespace

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(std::string_view serialized,
                                                             std::string* error) {
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel());
  std::vector<Field> fields;
  if (!ReadFields(serialized, &fields)) {
    *error = "not a serialized SentencePiece ModelProto";
    return nullptr;
  }
  std::string_view charsmap;
  for (const Field& field : fields) {
    if (field.wire_type != 2 || field.number > kModelNormalizerSpec) continue;
    std::vector<Field> sub;
    if (!ReadFields(field.payload, &sub)) {
      *error = "malformed SentencePiece ModelProto";
      return nullptr;
    }
    if (field.number == kModelPieces) {
      std::string piece;
      float score = 0;
      PieceType type = PieceType::kNormal;
      for (const Field& f : sub) {
        if (f.number == kPiecePiece && f.wire_type == 2) piece = std::string(f.payload);
        if (f.number == kPieceScore && f.wire_type == 5) {
          const auto bits = static_cast<uint32_t>(f.value);
          std::memcpy(&score, &bits, sizeof(score));
        }
        if (f.number == kPieceType && f.wire_type == 0) {
          if (f.value < 1 || f.value > 6) {
            *error = "piece " + std::to_string(model->size()) + " has an unknown type";
            return nullptr;
          }
          type = static_cast<PieceType>(f.value);
        }
      }
      model->pieces_.push_back(std::move(piece));
      model->scores_.push_back(score);
      model->types_.push_back(type);
    } else if (field.number == kModelTrainerSpec) {
      for (const Field& f : sub) {
        if (f.wire_type != 0) continue;
        if (f.number == kTrainerModelType && f.value != kUnigram) {
          *error = "only unigram SentencePiece models are supported";
          return nullptr;
        }
        if (f.number == kTrainerWhitespaceAsSuffix && f.value != 0) {
          *error = "treat_whitespace_as_suffix is not supported";
          return nullptr;
        }
        if (f.number == kTrainerByteFallback) model->byte_fallback_ = f.value != 0;
      }
    } else if (field.number == kModelNormalizerSpec) {
      for (const Field& f : sub) {
        if (f.number == kNormalizerCharsmap && f.wire_type == 2) charsmap = f.payload;
        if (f.wire_type != 0) continue;
        if (f.number == kNormalizerAddDummyPrefix) model->add_dummy_prefix_ = f.value != 0;
        if (f.number == kNormalizerRemoveExtraWhitespaces) {
          model->remove_extra_whitespaces_ = f.value != 0;
        }
        if (f.number == kNormalizerEscapeWhitespaces) model->escape_whitespaces_ = f.value != 0;
      }
    }
  }

  // The vocabulary, as SentencePiece checks it.
  float min_score = FLT_MAX;
  for (int id = 0; id < model->size(); ++id) {
    const std::string& piece = model->pieces_[id];
    const PieceType type = model->types_[id];
    if (piece.empty()) {
      *error = "piece " + std::to_string(id) + " is empty";
      return nullptr;
    }
    if (!model->ids_.emplace(piece, id).second) {
      *error = "piece \"" + piece + "\" is defined twice";
      return nullptr;
    }
    if (type == PieceType::kUnknown) {
      if (model->unk_id_ >= 0) {
        *error = "more than one unknown piece";
        return nullptr;
      }
      model->unk_id_ = id;
    }
    if (type == PieceType::kByte && !model->byte_fallback_) {
      *error = "byte piece \"" + piece + "\" without byte_fallback";
      return nullptr;
    }
    if (type == PieceType::kNormal) {
      min_score = std::min(min_score, model->scores_[id]);
      model->sorted_normal_.push_back(id);
    }
  }
  if (model->unk_id_ < 0) {
    *error = "the model has no unknown piece";
    return nullptr;
  }
  model->unknown_score_ = min_score - kUnknownPenalty;
  std::sort(model->sorted_normal_.begin(), model->sorted_normal_.end(),
            [&](int a, int b) { return model->pieces_[a] < model->pieces_[b]; });

  // precompiled_charsmap: <uint32 trie size><double-array units><NUL-terminated outputs>.
  if (!charsmap.empty()) {
    const uint64_t trie_size = charsmap.size() > 4 ? ReadLittleEndian(charsmap, 0, 4) : 0;
    if (charsmap.size() <= 4 || trie_size >= charsmap.size() - 4 || trie_size % 4 != 0 ||
        trie_size == 0) {
      *error = "malformed precompiled_charsmap";
      return nullptr;
    }
    model->charsmap_trie_.resize(trie_size / 4);
    for (size_t i = 0; i < model->charsmap_trie_.size(); ++i) {
      model->charsmap_trie_[i] = static_cast<uint32_t>(ReadLittleEndian(charsmap, 4 + 4 * i, 4));
    }
    model->charsmap_outputs_ = std::string(charsmap.substr(4 + trie_size));
    if (model->charsmap_outputs_.back() != '\0') model->charsmap_outputs_.push_back('\0');
  }
  return model;
}

std::pair<std::string_view, size_t> SentencePieceModel::NormalizePrefix(
    std::string_view input) const {
  // Longest rule: a common-prefix walk of the double array.
  size_t longest_length = 0;
  uint32_t longest_value = 0;
  if (!charsmap_trie_.empty()) {
    const size_t units = charsmap_trie_.size();
    size_t node = Offset(charsmap_trie_[0]);
    for (size_t i = 0; i < input.size(); ++i) {
      const auto label = static_cast<uint8_t>(input[i]);
      node ^= label;
      if (node >= units) break;
      const uint32_t unit = charsmap_trie_[node];
      if (Label(unit) != label) break;
      node ^= Offset(unit);
      if (node >= units) break;
      if (HasLeaf(unit)) {
        longest_length = i + 1;
        longest_value = Value(charsmap_trie_[node]);
      }
    }
  }
  if (longest_length > 0 && longest_value < charsmap_outputs_.size()) {
    // charsmap_outputs_ ends with NUL, so the C string ends inside it.
    return {std::string_view(charsmap_outputs_.c_str() + longest_value), longest_length};
  }
  const size_t length = ValidCharLength(input);
  if (length == 0) return {kReplacementCharacter, 1};
  return {input.substr(0, length), length};
}

std::string SentencePieceModel::Normalize(std::string_view input) const {
  std::string normalized;
  if (remove_extra_whitespaces_) {
    while (!input.empty()) {
      const auto [output, consumed] = NormalizePrefix(input);
      if (output != " ") break;
      input.remove_prefix(consumed);
    }
  }
  if (input.empty()) return normalized;
  if (add_dummy_prefix_) normalized.append(escape_whitespaces_ ? kSpaceSymbol : " ");
  bool previous_is_space = remove_extra_whitespaces_;
  while (!input.empty()) {
    auto [output, consumed] = NormalizePrefix(input);
    while (previous_is_space && !output.empty() && output.front() == ' ') output.remove_prefix(1);
    if (!output.empty()) {
      for (const char c : output) {
        if (escape_whitespaces_ && c == ' ') {
          normalized.append(kSpaceSymbol);
        } else {
          normalized.push_back(c);
        }
      }
      previous_is_space = output.back() == ' ';
    }
    input.remove_prefix(consumed);
    if (!remove_extra_whitespaces_) previous_is_space = false;
  }
  if (remove_extra_whitespaces_) {
    const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : " ";
    while (normalized.size() >= space.size() &&
           std::string_view(normalized).substr(normalized.size() - space.size()) == space) {
      normalized.resize(normalized.size() - space.size());
    }
  }
  return normalized;
}

std::vector<int> SentencePieceModel::Encode(std::string_view text) const {
  const std::string normalized = Normalize(text);
  const size_t size = normalized.size();
  // The best path ending at each byte offset: its last piece, where that piece starts and the
  // path's score.
  struct PathEnd {
    int id = -1;
    int start = -1;
    float score = 0;
  };
  std::vector<PathEnd> best(size + 1);
  auto offer = [&](size_t end, size_t start, int id, float score) {
    PathEnd& node = best[end];
    if (node.start == -1 || score > node.score) node = {id, static_cast<int>(start), score};
  };
  for (size_t start = 0; start < size;) {
    const float score_here = best[start].score;
    const size_t char_length =
        std::min<size_t>(OneCharLength(normalized[start]), size - start);
    bool covers_char = false;
    // Pieces starting here, shortest first: narrow the sorted run sharing the prefix byte by
    // byte; a piece equal to the prefix is the run's first element.
    auto low = sorted_normal_.begin(), high = sorted_normal_.end();
    for (size_t depth = 0; start + depth < size; ++depth) {
      const auto c = static_cast<uint8_t>(normalized[start + depth]);
      low = std::partition_point(low, high, [&](int id) {
        const std::string& p = pieces_[id];
        return p.size() <= depth || static_cast<uint8_t>(p[depth]) < c;
      });
      high = std::partition_point(
          low, high, [&](int id) { return static_cast<uint8_t>(pieces_[id][depth]) == c; });
      if (low == high) break;
      if (pieces_[*low].size() == depth + 1) {
        offer(start + depth + 1, start, *low, score_here + scores_[*low]);
        if (depth + 1 == char_length) covers_char = true;
      }
    }
    if (!covers_char) {
      offer(start + char_length, start, unk_id_, score_here + unknown_score_);
    }
    start += char_length;
  }
  std::vector<int> ids;
  for (size_t end = size; end > 0; end = static_cast<size_t>(best[end].start)) {
    ids.push_back(best[end].id);
  }
  std::reverse(ids.begin(), ids.end());
  // Adjacent unknown characters are one unknown piece, as SentencePiece reports them.
  ids.erase(std::unique(ids.begin(), ids.end(),
                        [&](int a, int b) { return a == unk_id_ && b == unk_id_; }),
            ids.end());
  return ids;
}

int SentencePieceModel::Find(std::string_view piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

}  // namespace videogen::engine::text::internal
