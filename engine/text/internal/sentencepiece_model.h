// A SentencePiece model (spiece.model) behind a header free of SentencePiece and abseil types.
//
// Why a wrapper: Debian's <sentencepiece_processor.h> declares `namespace absl { using
// std::string_view; }`, which clashes with the system abseil's own absl::string_view (built with
// ABSL_OPTION_USE_STD_STRING_VIEW 0). Only sentencepiece_model.cc includes it, and that file
// includes no abseil header.
//
// Thread-safe after Load(): Encode() is const and SentencePiece's encoder keeps no state.
#ifndef VIDEOGEN_ENGINE_TEXT_INTERNAL_SENTENCEPIECE_MODEL_H_
#define VIDEOGEN_ENGINE_TEXT_INTERNAL_SENTENCEPIECE_MODEL_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

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
  // is malformed.
  static std::unique_ptr<SentencePieceModel> Load(const std::string& serialized,
                                                  std::string* error);
  ~SentencePieceModel();

  // Normalises and segments `text` with the model (dummy "▁" prefix, whitespace handling and the
  // normaliser as configured in the model; with byte fallback, each unknown character becomes
  // its UTF-8 byte pieces). False and `error` on failure.
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;

  int size() const { return static_cast<int>(pieces_.size()); }
  const std::string& piece(int id) const { return pieces_[id]; }
  PieceType type(int id) const { return types_[id]; }
  // The id of `piece`, or -1 if it is not in the vocabulary.
  int Find(std::string_view piece) const;
  // trainer_spec.byte_fallback.
  bool byte_fallback() const { return byte_fallback_; }
  // normalizer_spec.add_dummy_prefix / remove_extra_whitespaces (both default to true).
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }
  int unk_id() const;

 private:
  SentencePieceModel() = default;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::vector<std::string> pieces_;
  std::vector<PieceType> types_;
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
};

}  // namespace videogen::engine::text::internal

#endif  // VIDEOGEN_ENGINE_TEXT_INTERNAL_SENTENCEPIECE_MODEL_H_
