// The one place where LibTorch and CUDA exceptions become absl::Status.
//
// LibTorch reports failures by throwing (c10::Error and subclasses, std::bad_alloc). Engine code
// that calls into LibTorch wraps the call at its boundary (the worker step, a model load):
//
//   absl::Status status = RunTorch(absl::StrCat("job ", job_id, " step ", step), [&] {
//     latents = transformer.Forward(latents, t);
//   });
//
//   absl::StatusOr<at::Tensor> out = RunTorchOr("vae decode", [&] { return vae.Decode(z); });
//
// Out-of-memory (host or device) becomes RESOURCE_EXHAUSTED; every other exception INTERNAL. The
// message is "<context>: <first line of the exception's message>"; LibTorch's C++ stack trace is
// dropped (it is logged at debug level by the caller if wanted).
#ifndef VIDEOGEN_ENGINE_COMMON_TORCH_STATUS_H_
#define VIDEOGEN_ENGINE_COMMON_TORCH_STATUS_H_

#include <exception>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine {

// Converts the exception currently being handled (call only inside a catch block).
absl::Status StatusFromCurrentException(absl::string_view context);

// Runs `fn()` (returning void) and converts any exception it throws.
template <typename Fn>
absl::Status RunTorch(absl::string_view context, Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
    return absl::OkStatus();
  } catch (...) {
    return StatusFromCurrentException(context);
  }
}

// Runs `fn()` and returns its result, or the converted exception.
template <typename Fn, typename R = std::invoke_result_t<Fn>>
absl::StatusOr<R> RunTorchOr(absl::string_view context, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    return StatusFromCurrentException(context);
  }
}

}  // namespace videogen::engine

#endif  // VIDEOGEN_ENGINE_COMMON_TORCH_STATUS_H_
