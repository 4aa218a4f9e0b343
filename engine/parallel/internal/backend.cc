#include "engine/parallel/internal/backend.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "torch/csrc/distributed/c10d/ProcessGroupGloo.hpp"

namespace videogen::engine::parallel::internal {

absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, const c10::Device& device,
    std::chrono::milliseconds timeout) {
  if (device.is_cuda()) return MakeNcclBackend(store, rank, size, timeout);
  if (!device.is_cpu()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no collective backend for ", device.str(), " tensors"));
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    return c10::intrusive_ptr<c10d::Backend>(
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("Gloo rendezvous of rank ", rank, " of ", size, " failed: ", e.what()));
  }
}

}  // namespace videogen::engine::parallel::internal
