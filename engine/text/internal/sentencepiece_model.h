// A SentencePiece unigram model (spiece.model), read and applied without libsentencepiece.
//
// Why our own: Debian's libsentencepiece exports the symbols of the protobuf-lite copy built into
// it, and a binary that also links the system libprotobuf (the gRPC API) binds one library's
// calls to the other's and aborts at start-up. The model format is small, so it is parsed here
// with a wire-format reader and applied as SentencePiece 0.1.97 applies it:
//
// - Normalisation (normalizer_spec): the precompiled character map (a Darts-clone double-array
//   trie of rules plus their NUL-terminated outputs), longest rule match first and otherwise one
//   UTF-8 character as is; leading, trailing and repeated whitespace removed
//   (remove_extra_whitespaces); a "▁" prefix (add_dummy_prefix); spaces written as "▁"
//   (escape_whitespaces).
// - Segmentation: the unigram Viterbi best path over the normal pieces, scores summed in float,
//   ties kept by the first candidate found (shorter pieces and earlier starts first); a character
//   no piece covers becomes the unknown piece with score (lowest normal score - 10), and, with
//   byte fallback, each unknown piece becomes its UTF-8 byte pieces "<0xXX>".
//
// Only what umT5 (and T5) models use is supported; Load() rejects the rest (BPE/word/char
// models, whitespace as suffix) with a message. User-defined and unused pieces are kept in the
// vocabulary but never matched (the tokenizer rejects such models).
//
// Thread-safe after Load(): all methods are const.
#ifndef VIDEOGEN_ENGINE_TEXT_INTERNAL_SENTENCEPIECE_MODEL_H_
#define VIDEOGEN_ENGINE_TEXT_INTERNAL_SENTENCEPIECE_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace videogen::engine::text::internal {

// sentencepiece_model.proto's ModelProto.SentencePiece.Type.
enum class PieceType {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

class SentencePieceModel {
 public:
  // Parses the serialized ModelProto `serialized`. Returns nullptr and sets `error` if the model
  // is malformed or uses a feature this reader does not implement.
  static std::unique_ptr<SentencePieceModel> Load(std::string_view serialized,
                                                  std::string* error);

  // Normalises and segments `text` (valid UTF-8) into piece ids.
  std::vector<int> Encode(std::string_view text) const;

  // The normaliser alone: what Encode() segments.
  std::string Normalize(std::string_view text) const;

  int size() const { return static_cast<int>(pieces_.size()); }
  const std::string& piece(int id) const { return pieces_[id]; }
  PieceType type(int id) const { return types_[id]; }
  // The id of `piece`, or -1 if it is not in the vocabulary.
  int Find(std::string_view piece) const;
  bool byte_fallback() const { return byte_fallback_; }
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }
  int unk_id() const { return unk_id_; }

 private:
  SentencePieceModel() = default;

  // The longest normalisation rule matching a prefix of `input`: (output, bytes consumed), or
  // one UTF-8 character unchanged.
  std::pair<std::string_view, size_t> NormalizePrefix(std::string_view input) const;

  std::vector<std::string> pieces_;
  std::vector<PieceType> types_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int> ids_;  // Views into pieces_.
  // Normal pieces' ids, ordered by their bytes: the pieces sharing a prefix are a contiguous run.
  std::vector<int> sorted_normal_;
  float unknown_score_ = 0;
  int unk_id_ = -1;
  int byte_ids_[256] = {};
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
  // The precompiled character map: double-array units and the rule outputs.
  std::vector<uint32_t> charsmap_trie_;
  std::string charsmap_outputs_;
};

}  // namespace videogen::engine::text::internal

#endif  // VIDEOGEN_ENGINE_TEXT_INTERNAL_SENTENCEPIECE_MODEL_H_
