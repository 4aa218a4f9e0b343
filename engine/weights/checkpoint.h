// The weights of one diffusers/transformers component folder (e.g. `transformer/`, `vae/`,
// `text_encoder/`), as LibTorch tensors.
//
// Layout: either one `<stem>.safetensors` or a sharded set described by
// `<stem>.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: shard file}}), where
// `stem` is "diffusion_pytorch_model" (diffusers) or "model" (transformers). The index wins when
// both exist, as in diffusers.
//
// Loading checks the checkpoint against the architecture's expected parameters: a missing, extra
// or misshaped tensor is an error naming the file and the tensor. Floating-point tensors are cast
// to the run dtype except those the caller keeps in float32 (diffusers' `_keep_in_fp32_modules`).
//
// Thread-safe after Open(); tensors returned are independent of the Checkpoint.
#ifndef VIDEOGEN_ENGINE_WEIGHTS_CHECKPOINT_H_
#define VIDEOGEN_ENGINE_WEIGHTS_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/weights/safetensors.h"

namespace videogen::engine {

// What a model expects to find: parameter name -> shape.
using ParameterShapes = std::map<std::string, std::vector<int64_t>>;

struct LoadOptions {
  // Floating-point tensors are cast to this type...
  c10::ScalarType dtype = c10::ScalarType::Float;
  // ...unless a dot-separated component of their name is one of these (then float32).
  std::vector<std::string> keep_in_fp32_modules;
  // Names present in the checkpoint that the model does not use and that are not an error
  // (diffusers' `_keys_to_ignore_on_load_unexpected`), matched as whole dot-separated components.
  std::vector<std::string> ignore_unexpected;
};

class Checkpoint {
 public:
  // Opens the weights of the component folder `dir` with file stem `stem`. NOT_FOUND if neither
  // layout is present or a shard is missing; DATA_LOSS for a malformed index or file, a tensor
  // the index places in a shard that lacks it, or a tensor found in two files.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir,
                                                          absl::string_view stem);

  // Every tensor name, sorted.
  std::vector<std::string> TensorNames() const;

  // The tensor `name` as a new CPU tensor of `dtype` (a copy; cast if the stored type differs).
  // NOT_FOUND if absent.
  absl::StatusOr<at::Tensor> Load(absl::string_view name, c10::ScalarType dtype) const;

  // Loads exactly the parameters in `expected`, checking names and shapes, with the dtype policy
  // of `options` (non-floating tensors keep their type). INVALID_ARGUMENT listing up to 10
  // missing, unexpected or misshaped tensors with their files.
  absl::StatusOr<std::map<std::string, at::Tensor>> LoadStateDict(const ParameterShapes& expected,
                                                                  const LoadOptions& options) const;

  // The dtype a floating-point tensor called `name` gets under `options`.
  static c10::ScalarType TargetDType(absl::string_view name, const LoadOptions& options);

 private:
  struct Location {
    const SafetensorsFile* file;
    const SafetensorsTensor* tensor;
  };
  explicit Checkpoint(std::vector<std::unique_ptr<SafetensorsFile>> files);

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  absl::flat_hash_map<std::string, Location> tensors_;
};

}  // namespace videogen::engine

#endif  // VIDEOGEN_ENGINE_WEIGHTS_CHECKPOINT_H_
