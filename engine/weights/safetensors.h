// Reader for the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// describing each tensor (dtype, shape, byte range in the data section) plus optional string
// metadata, then the data section.
//
// The header is untrusted input and is fully validated before any tensor is exposed: length
// bounds, strict JSON starting at the first header byte (no duplicate keys), supported dtypes,
// non-negative shapes whose byte size matches the byte range, ranges inside the file, and a data
// section covered exactly once (no gaps, no overlaps). Every violation is DATA_LOSS naming the file
// and the tensor.
//
// SafetensorsFile memory-maps the file read-only; tensor bytes are views into the mapping, valid
// while the SafetensorsFile lives. Thread-safe after Open() (read-only).
#ifndef VIDEOGEN_ENGINE_WEIGHTS_SAFETENSORS_H_
#define VIDEOGEN_ENGINE_WEIGHTS_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace videogen::engine {

// Element types of the format that the engine reads (by their header strings). The format's
// complex, 4/6-bit and FNUZ/E8M0 8-bit types are rejected as unsupported.
enum class SafetensorsDType {
  kBool,    // "BOOL"
  kU8,      // "U8"
  kI8,      // "I8"
  kF8E5M2,  // "F8_E5M2"
  kF8E4M3,  // "F8_E4M3"
  kI16,     // "I16"
  kU16,     // "U16"
  kF16,     // "F16"
  kBF16,    // "BF16"
  kI32,     // "I32"
  kU32,     // "U32"
  kF32,     // "F32"
  kF64,     // "F64"
  kI64,     // "I64"
  kU64,     // "U64"
};

// Bytes per element.
size_t SafetensorsDTypeSize(SafetensorsDType dtype);
// The header string, e.g. "BF16".
absl::string_view SafetensorsDTypeName(SafetensorsDType dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype;
  std::vector<int64_t> shape;  // Empty for a scalar.
  uint64_t data_begin = 0;     // Byte range within the data section.
  uint64_t data_end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsTensor> tensors;       // In data order.
  std::map<std::string, std::string> metadata;  // "__metadata__", if present.
  uint64_t data_offset = 0;                     // Where the data section starts in the file.
};

// Largest header accepted (the format's reference implementation uses the same bound).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses and validates the header of a complete safetensors file held in `file`. `source` names
// the file in error messages.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::Span<const uint8_t> file,
                                                         absl::string_view source);

class SafetensorsFile {
 public:
  // Maps `path` and validates its header. NOT_FOUND if it cannot be opened, DATA_LOSS if it is
  // not a valid safetensors file.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  // nullptr if the file has no tensor called `name`.
  const SafetensorsTensor* Find(absl::string_view name) const;
  // The tensor's bytes (little-endian, row-major), a view into the mapping.
  absl::Span<const uint8_t> Bytes(const SafetensorsTensor& tensor) const;

 private:
  SafetensorsFile(std::string path, const uint8_t* data, size_t size, SafetensorsHeader header);

  const std::string path_;
  const uint8_t* const data_;
  const size_t size_;
  const SafetensorsHeader header_;
  absl::flat_hash_map<std::string, size_t> index_;  // Name -> position in header_.tensors.
};

}  // namespace videogen::engine

#endif  // VIDEOGEN_ENGINE_WEIGHTS_SAFETENSORS_H_
