#include "engine/weights/testing/write_safetensors.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "ATen/ATen.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace videogen::engine::testing {
namespace {

absl::StatusOr<std::string> DTypeName(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float:
      return std::string("F32");
    case c10::ScalarType::BFloat16:
      return std::string("BF16");
    case c10::ScalarType::Half:
      return std::string("F16");
    case c10::ScalarType::Long:
      return std::string("I64");
    case c10::ScalarType::Int:
      return std::string("I32");
    case c10::ScalarType::Byte:
      return std::string("U8");
    default:
      return absl::InvalidArgumentError(absl::StrCat("unsupported dtype ", c10::toString(type)));
  }
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path,
                              const std::map<std::string, at::Tensor>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    absl::StatusOr<std::string> dtype = DTypeName(tensor.scalar_type());
    if (!dtype.ok()) return dtype.status();
    const at::Tensor data = tensor.contiguous().cpu();
    const uint64_t bytes = data.numel() * data.element_size();
    header[name] = {{"dtype", *dtype},
                    {"shape", data.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(data);
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  std::ofstream file(path, std::ios::binary);
  const uint64_t size = text.size();
  for (int i = 0; i < 8; ++i) file.put(static_cast<char>(size >> (8 * i)));
  file << text;
  for (const at::Tensor& data : contiguous) {
    file.write(static_cast<const char*>(data.data_ptr()), data.numel() * data.element_size());
  }
  return file ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace videogen::engine::testing
