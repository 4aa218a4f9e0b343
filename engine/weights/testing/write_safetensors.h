// Test helper: writes CPU tensors as a safetensors file (F32, BF16, F16, I64, I32, U8 only),
// laid out as the format's writers do (8-byte aligned data, tensors by name).
#ifndef VIDEOGEN_ENGINE_WEIGHTS_TESTING_WRITE_SAFETENSORS_H_
#define VIDEOGEN_ENGINE_WEIGHTS_TESTING_WRITE_SAFETENSORS_H_

#include <map>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"

namespace videogen::engine::testing {

absl::Status WriteSafetensors(const std::string& path,
                              const std::map<std::string, at::Tensor>& tensors);

}  // namespace videogen::engine::testing

#endif  // VIDEOGEN_ENGINE_WEIGHTS_TESTING_WRITE_SAFETENSORS_H_
