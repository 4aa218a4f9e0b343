#include "engine/weights/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/json.h"
#include "nlohmann/json.hpp"

namespace videogen::engine {
namespace {

using Json = nlohmann::json;

struct DTypeName {
  SafetensorsDType dtype;
  absl::string_view name;
  size_t size;
};

constexpr DTypeName kDTypes[] = {
    {SafetensorsDType::kBool, "BOOL", 1},      {SafetensorsDType::kU8, "U8", 1},
    {SafetensorsDType::kI8, "I8", 1},          {SafetensorsDType::kF8E5M2, "F8_E5M2", 1},
    {SafetensorsDType::kF8E4M3, "F8_E4M3", 1}, {SafetensorsDType::kI16, "I16", 2},
    {SafetensorsDType::kU16, "U16", 2},        {SafetensorsDType::kF16, "F16", 2},
    {SafetensorsDType::kBF16, "BF16", 2},      {SafetensorsDType::kI32, "I32", 4},
    {SafetensorsDType::kU32, "U32", 4},        {SafetensorsDType::kF32, "F32", 4},
    {SafetensorsDType::kF64, "F64", 8},        {SafetensorsDType::kI64, "I64", 8},
    {SafetensorsDType::kU64, "U64", 8},
};

const DTypeName& Lookup(SafetensorsDType dtype) { return kDTypes[static_cast<size_t>(dtype)]; }

// Builds DATA_LOSS errors that name the file (and the tensor, when there is one).
class Errors {
 public:
  explicit Errors(absl::string_view source) : source_(source) {}
  template <typename... Args>
  absl::Status File(const Args&... args) const {
    return absl::DataLossError(absl::StrCat(source_, ": invalid safetensors file: ", args...));
  }
  template <typename... Args>
  absl::Status Tensor(absl::string_view name, const Args&... args) const {
    return File("tensor \"", name, "\": ", args...);
  }

 private:
  absl::string_view source_;
};

absl::StatusOr<SafetensorsTensor> ParseEntry(const std::string& name, const Json& entry,
                                             uint64_t data_size, const Errors& errors) {
  if (!entry.is_object()) return errors.Tensor(name, "entry is not an object");
  for (const auto& [key, value] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return errors.Tensor(name, "unknown field \"", key, "\"");
    }
  }
  SafetensorsTensor tensor;
  tensor.name = name;

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) {
    return errors.Tensor(name, "missing or non-string dtype");
  }
  const std::string& dtype_name = dtype->get_ref<const std::string&>();
  const auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                  [&](const DTypeName& d) { return d.name == dtype_name; });
  if (known == std::end(kDTypes)) {
    return errors.Tensor(name, "unsupported dtype \"", dtype_name, "\"");
  }
  tensor.dtype = known->dtype;

  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) return errors.Tensor(name, "missing shape");
  uint64_t bytes = known->size;
  for (const Json& dim : *shape) {
    if (!dim.is_number_unsigned()) {
      return errors.Tensor(name, "shape entry ", dim.dump(), " is not a non-negative integer");
    }
    const uint64_t value = dim.get<uint64_t>();
    if (value > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, value, &bytes)) {
      return errors.Tensor(name, "shape ", shape->dump(), " overflows");
    }
    tensor.shape.push_back(static_cast<int64_t>(value));
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    return errors.Tensor(name, "data_offsets must be [begin, end] of non-negative integers");
  }
  tensor.data_begin = (*offsets)[0].get<uint64_t>();
  tensor.data_end = (*offsets)[1].get<uint64_t>();
  if (tensor.data_begin > tensor.data_end || tensor.data_end > data_size) {
    return errors.Tensor(name, "data_offsets [", tensor.data_begin, ", ", tensor.data_end,
                         "] outside the data section of ", data_size, " bytes");
  }
  if (tensor.data_end - tensor.data_begin != bytes) {
    return errors.Tensor(name, "data_offsets cover ", tensor.data_end - tensor.data_begin,
                         " bytes but ", dtype_name, " ", shape->dump(), " needs ", bytes);
  }
  return tensor;
}

}  // namespace

size_t SafetensorsDTypeSize(SafetensorsDType dtype) { return Lookup(dtype).size; }

absl::string_view SafetensorsDTypeName(SafetensorsDType dtype) { return Lookup(dtype).name; }

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::Span<const uint8_t> file,
                                                         absl::string_view source) {
  const Errors errors(source);
  if (file.size() < 8) return errors.File("shorter than the 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file[i];
  if (header_size > kMaxSafetensorsHeaderBytes) {
    return errors.File("header length ", header_size, " exceeds the limit of ",
                       kMaxSafetensorsHeaderBytes);
  }
  if (header_size > file.size() - 8) {
    return errors.File("header length ", header_size, " exceeds the file size ", file.size());
  }
  const absl::string_view text(reinterpret_cast<const char*>(file.data() + 8), header_size);
  // The format requires the JSON to start at the first byte (writers pad only at the end).
  if (text.empty() || text.front() != '{') return errors.File("header does not start with '{'");
  absl::StatusOr<Json> json = ParseStrictJson(text);
  if (!json.ok()) return errors.File("header: ", json.status().message());

  SafetensorsHeader header;
  header.data_offset = 8 + header_size;
  const uint64_t data_size = file.size() - header.data_offset;
  for (const auto& [name, entry] : json->items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return errors.File("__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string())
          return errors.File("__metadata__ value of \"", key, "\" is not a string");
        header.metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }
    absl::StatusOr<SafetensorsTensor> tensor = ParseEntry(name, entry, data_size, errors);
    if (!tensor.ok()) return tensor.status();
    header.tensors.push_back(*std::move(tensor));
  }

  // The tensors must tile the data section exactly: sorted by range, each begins where the
  // previous one ended, and the last ends at the end of the file.
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
              return std::tie(a.data_begin, a.data_end) < std::tie(b.data_begin, b.data_end);
            });
  uint64_t covered = 0;
  for (const SafetensorsTensor& tensor : header.tensors) {
    if (tensor.data_begin != covered) {
      return errors.Tensor(tensor.name,
                           tensor.data_begin < covered ? "overlaps" : "leaves a gap before",
                           " the previous tensor (begins at ", tensor.data_begin,
                           ", previous ends at ", covered, ")");
    }
    covered = tensor.data_end;
  }
  if (covered != data_size) {
    return errors.File("tensors cover ", covered, " of the ", data_size,
                       " bytes of the data section");
  }
  return header;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::NotFoundError(absl::StrCat(path, " is not a regular file"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  // mmap of length 0 fails; an empty file is handled by the parser's size check on an empty view.
  void* mapping = size == 0 ? nullptr : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map ", path, ": ", std::strerror(mmap_errno)));
  }
  const auto* data = static_cast<const uint8_t*>(mapping);
  absl::StatusOr<SafetensorsHeader> header = ParseSafetensorsHeader({data, size}, path);
  if (!header.ok()) {
    if (mapping != nullptr) ::munmap(mapping, size);
    return header.status();
  }
  return std::unique_ptr<SafetensorsFile>(
      new SafetensorsFile(path, data, size, *std::move(header)));
}

SafetensorsFile::SafetensorsFile(std::string path, const uint8_t* data, size_t size,
                                 SafetensorsHeader header)
    : path_(std::move(path)), data_(data), size_(size), header_(std::move(header)) {
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_.emplace(header_.tensors[i].name, i);
}

SafetensorsFile::~SafetensorsFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

const SafetensorsTensor* SafetensorsFile::Find(absl::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

absl::Span<const uint8_t> SafetensorsFile::Bytes(const SafetensorsTensor& tensor) const {
  return {data_ + header_.data_offset + tensor.data_begin, tensor.data_end - tensor.data_begin};
}

}  // namespace videogen::engine
