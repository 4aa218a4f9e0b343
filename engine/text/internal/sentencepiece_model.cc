// No abseil header may be included here (see the header).
#include "engine/text/internal/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include <cstdint>
#include <utility>

namespace videogen::engine::text::internal {
namespace {

// Field numbers of sentencepiece_model.proto used here.
constexpr uint32_t kModelPieces = 1;                       // ModelProto.pieces (message, repeated)
constexpr uint32_t kModelTrainerSpec = 2;                  // ModelProto.trainer_spec (message)
constexpr uint32_t kModelNormalizerSpec = 3;               // ModelProto.normalizer_spec (message)
constexpr uint32_t kPiecePiece = 1;                        // SentencePiece.piece (string)
constexpr uint32_t kPieceType = 3;                         // SentencePiece.type (enum)
constexpr uint32_t kTrainerByteFallback = 35;              // TrainerSpec.byte_fallback (bool)
constexpr uint32_t kNormalizerAddDummyPrefix = 3;          // NormalizerSpec.add_dummy_prefix (bool)
constexpr uint32_t kNormalizerRemoveExtraWhitespaces = 4;  // ...remove_extra_whitespaces (bool)

// One field of a serialized protobuf message: wire-format reader just large enough for the
// fields above. `payload` is the length-delimited content.
struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;
  std::string_view payload;
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
        if (!ReadVarint(message, &pos, &field.varint)) return false;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        uint64_t length;
        if (!ReadVarint(message, &pos, &length) || length > message.size() - pos) return false;
        field.payload = message.substr(pos, length);
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return false;
    }
    if (pos > message.size()) return false;
    fields->push_back(field);
  }
  return true;
}

}  // namespace

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& serialized,
                                                             std::string* error) {
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel());
  std::vector<Field> fields;
  if (!ReadFields(serialized, &fields)) {
    *error = "not a serialized SentencePiece ModelProto";
    return nullptr;
  }
  // Piece types and the flags come from the proto: the processor's API cannot tell user-defined
  // pieces apart from normal ones, nor report the normaliser's settings.
  for (const Field& field : fields) {
    if (field.wire_type != 2 || field.number > kModelNormalizerSpec) continue;
    std::vector<Field> sub;
    if (!ReadFields(field.payload, &sub)) {
      *error = "malformed SentencePiece ModelProto";
      return nullptr;
    }
    if (field.number == kModelPieces) {
      std::string piece;
      PieceType type = PieceType::kNormal;
      for (const Field& f : sub) {
        if (f.number == kPiecePiece && f.wire_type == 2) piece = std::string(f.payload);
        if (f.number == kPieceType && f.wire_type == 0) type = static_cast<PieceType>(f.varint);
      }
      model->pieces_.push_back(std::move(piece));
      model->types_.push_back(type);
    } else if (field.number == kModelTrainerSpec) {
      for (const Field& f : sub) {
        if (f.number == kTrainerByteFallback && f.wire_type == 0) {
          model->byte_fallback_ = f.varint != 0;
        }
      }
    } else if (field.number == kModelNormalizerSpec) {
      for (const Field& f : sub) {
        if (f.wire_type != 0) continue;
        if (f.number == kNormalizerAddDummyPrefix) model->add_dummy_prefix_ = f.varint != 0;
        if (f.number == kNormalizerRemoveExtraWhitespaces) {
          model->remove_extra_whitespaces_ = f.varint != 0;
        }
      }
    }
  }

  model->processor_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status status = model->processor_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  if (model->processor_->GetPieceSize() != model->size()) {
    *error = "SentencePiece model piece count mismatch";
    return nullptr;
  }
  return model;
}

SentencePieceModel::~SentencePieceModel() = default;

bool SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids,
                                std::string* error) const {
  ids->clear();
  const sentencepiece::util::Status status = processor_->Encode(text, ids);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

int SentencePieceModel::Find(std::string_view piece) const {
  const int id = processor_->PieceToId(piece);
  // PieceToId answers the unknown id for strings outside the vocabulary.
  return id >= 0 && id < size() && pieces_[id] == piece ? id : -1;
}

int SentencePieceModel::unk_id() const { return processor_->unk_id(); }

}  // namespace videogen::engine::text::internal
