#include "engine/weights/checkpoint.h"
#include "engine/common/file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"

namespace videogen::engine {
namespace {

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

c10::ScalarType ToScalarType(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kBool:
      return c10::ScalarType::Bool;
    case SafetensorsDType::kU8:
      return c10::ScalarType::Byte;
    case SafetensorsDType::kI8:
      return c10::ScalarType::Char;
    case SafetensorsDType::kF8E5M2:
      return c10::ScalarType::Float8_e5m2;
    case SafetensorsDType::kF8E4M3:
      return c10::ScalarType::Float8_e4m3fn;
    case SafetensorsDType::kI16:
      return c10::ScalarType::Short;
    case SafetensorsDType::kU16:
      return c10::ScalarType::UInt16;
    case SafetensorsDType::kF16:
      return c10::ScalarType::Half;
    case SafetensorsDType::kBF16:
      return c10::ScalarType::BFloat16;
    case SafetensorsDType::kI32:
      return c10::ScalarType::Int;
    case SafetensorsDType::kU32:
      return c10::ScalarType::UInt32;
    case SafetensorsDType::kF32:
      return c10::ScalarType::Float;
    case SafetensorsDType::kF64:
      return c10::ScalarType::Double;
    case SafetensorsDType::kI64:
      return c10::ScalarType::Long;
    case SafetensorsDType::kU64:
      return c10::ScalarType::UInt64;
  }
  return c10::ScalarType::Undefined;
}

bool HasComponent(absl::string_view name, const std::vector<std::string>& components) {
  for (absl::string_view part : absl::StrSplit(name, '.')) {
    if (std::find(components.begin(), components.end(), part) != components.end()) return true;
  }
  return false;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// Reads `<dir>/<stem>.safetensors.index.json` and returns the shard file names it references, in
// order of first use, plus its weight map.
absl::StatusOr<std::pair<std::vector<std::string>, std::map<std::string, std::string>>> ReadIndex(
    const std::string& index_path) {
  VG_ASSIGN_OR_RETURN(const std::string text, ReadFile(index_path));
  absl::StatusOr<nlohmann::json> json = ParseStrictJson(text);
  if (!json.ok())
    return absl::DataLossError(absl::StrCat(index_path, ": ", json.status().message()));
  const auto weight_map = json->find("weight_map");
  if (!json->is_object() || weight_map == json->end() || !weight_map->is_object()) {
    return absl::DataLossError(absl::StrCat(index_path, ": no \"weight_map\" object"));
  }
  std::vector<std::string> shards;
  std::map<std::string, std::string> map;
  for (const auto& [tensor, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      return absl::DataLossError(
          absl::StrCat(index_path, ": weight_map entry \"", tensor, "\" is not a file name"));
    }
    const std::string& file = shard.get_ref<const std::string&>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      return absl::DataLossError(
          absl::StrCat(index_path, ": shard \"", file, "\" is not a plain file name"));
    }
    if (std::find(shards.begin(), shards.end(), file) == shards.end()) shards.push_back(file);
    map.emplace(tensor, file);
  }
  return std::make_pair(std::move(shards), std::move(map));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir,
                                                             absl::string_view stem) {
  const std::string single = absl::StrCat(dir, "/", stem, ".safetensors");
  const std::string index = absl::StrCat(single, ".index.json");
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, std::string> weight_map;
  if (FileExists(index)) {
    VG_ASSIGN_OR_RETURN(auto parsed, ReadIndex(index));
    weight_map = std::move(parsed.second);
    for (const std::string& shard : parsed.first) {
      absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
          SafetensorsFile::Open(absl::StrCat(dir, "/", shard));
      if (!file.ok()) {
        return absl::Status(file.status().code(),
                            absl::StrCat(file.status().message(), " (listed in ", index, ")"));
      }
      files.push_back(*std::move(file));
    }
  } else if (FileExists(single)) {
    VG_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(single));
    files.push_back(std::move(file));
  } else {
    return absl::NotFoundError(absl::StrCat("no weights in ", dir, ": neither ", stem,
                                            ".safetensors nor ", stem, ".safetensors.index.json"));
  }

  auto checkpoint = std::unique_ptr<Checkpoint>(new Checkpoint(std::move(files)));
  for (const auto& file : checkpoint->files_) {
    for (const SafetensorsTensor& tensor : file->header().tensors) {
      const auto [it, inserted] =
          checkpoint->tensors_.emplace(tensor.name, Location{file.get(), &tensor});
      if (!inserted) {
        return absl::DataLossError(absl::StrCat("tensor \"", tensor.name, "\" is in both ",
                                                it->second.file->path(), " and ", file->path()));
      }
    }
  }
  // Every tensor the index names must be in the shard it names.
  for (const auto& [name, shard] : weight_map) {
    const auto it = checkpoint->tensors_.find(name);
    const std::string expected = absl::StrCat(dir, "/", shard);
    if (it == checkpoint->tensors_.end() || it->second.file->path() != expected) {
      return absl::DataLossError(
          absl::StrCat(index, " places tensor \"", name, "\" in ", shard, ", which lacks it"));
    }
  }
  return checkpoint;
}

Checkpoint::Checkpoint(std::vector<std::unique_ptr<SafetensorsFile>> files)
    : files_(std::move(files)) {}

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, location] : tensors_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<at::Tensor> Checkpoint::Load(absl::string_view name, c10::ScalarType dtype) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) return absl::NotFoundError(absl::StrCat("no tensor \"", name, "\""));
  const auto& [file, tensor] = it->second;
  const absl::Span<const uint8_t> bytes = file->Bytes(*tensor);
  // Copy out of the mapping first: the bytes may be unaligned for the element type, and the
  // result must not keep the file mapped.
  at::Tensor stored =
      at::empty(tensor->shape, at::TensorOptions().dtype(ToScalarType(tensor->dtype)));
  std::memcpy(stored.data_ptr(), bytes.data(), bytes.size());
  return dtype == stored.scalar_type() ? stored : stored.to(dtype);
}

c10::ScalarType Checkpoint::TargetDType(absl::string_view name, const LoadOptions& options) {
  return HasComponent(name, options.keep_in_fp32_modules) ? c10::ScalarType::Float : options.dtype;
}

absl::StatusOr<std::map<std::string, at::Tensor>> Checkpoint::LoadStateDict(
    const ParameterShapes& expected, const LoadOptions& options) const {
  std::vector<std::string> problems;
  for (const auto& [name, shape] : expected) {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      problems.push_back(absl::StrCat("missing \"", name, "\" ", ShapeString(shape)));
    } else if (it->second.tensor->shape != shape) {
      problems.push_back(absl::StrCat("\"", name, "\" in ", it->second.file->path(), " has shape ",
                                      ShapeString(it->second.tensor->shape), ", expected ",
                                      ShapeString(shape)));
    }
  }
  for (const std::string& name : TensorNames()) {
    if (!expected.count(name) && !HasComponent(name, options.ignore_unexpected)) {
      problems.push_back(
          absl::StrCat("unexpected \"", name, "\" in ", tensors_.at(name).file->path()));
    }
  }
  if (!problems.empty()) {
    const size_t shown = std::min<size_t>(problems.size(), 10);
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint does not match the model (", problems.size(),
        " problem(s)): ", absl::StrJoin(problems.begin(), problems.begin() + shown, "; "),
        problems.size() > shown ? "; ..." : ""));
  }
  std::map<std::string, at::Tensor> state;
  for (const auto& [name, shape] : expected) {
    const c10::ScalarType stored = ToScalarType(tensors_.at(name).tensor->dtype);
    const c10::ScalarType dtype = at::isFloatingType(stored) ? TargetDType(name, options) : stored;
    VG_ASSIGN_OR_RETURN(at::Tensor tensor, Load(name, dtype));
    state.emplace(name, std::move(tensor));
  }
  return state;
}

}  // namespace videogen::engine
