#include "engine/parallel/internal/backend.h"

namespace videogen::engine::parallel::internal {

absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>&, int, int, std::chrono::milliseconds) {
  return absl::UnimplementedError("this build has no CUDA: rebuild with --config=cuda for NCCL");
}

}  // namespace videogen::engine::parallel::internal
