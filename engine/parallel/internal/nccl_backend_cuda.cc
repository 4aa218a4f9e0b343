#include <exception>

#include "absl/strings/str_cat.h"
#include "engine/parallel/internal/backend.h"
#include "torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp"

namespace videogen::engine::parallel::internal {

absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
    std::chrono::milliseconds timeout) {
  try {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::intrusive_ptr<c10d::Backend>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("NCCL setup of rank ", rank, " of ", size, " failed: ", e.what()));
  }
}

}  // namespace videogen::engine::parallel::internal
