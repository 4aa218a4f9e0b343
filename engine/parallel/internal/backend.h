// c10d backends for the parallel context (engine/parallel/parallel_context.h).
#ifndef VIDEOGEN_ENGINE_PARALLEL_INTERNAL_BACKEND_H_
#define VIDEOGEN_ENGINE_PARALLEL_INTERNAL_BACKEND_H_

#include <chrono>

#include "absl/status/statusor.h"
#include "c10/core/Device.h"
#include "torch/csrc/distributed/c10d/Backend.hpp"
#include "torch/csrc/distributed/c10d/Store.hpp"

namespace videogen::engine::parallel::internal {

// A backend of `size` ranks that rendezvous through `store` (a prefix of their own): Gloo over
// the loopback interface for the CPU, NCCL for CUDA. Collectives wait at most `timeout`
// (NCCL: its watchdog's limit). UNIMPLEMENTED for CUDA in a build without it; UNAVAILABLE if
// the rendezvous fails.
absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, const c10::Device& device,
    std::chrono::milliseconds timeout);

// The NCCL half of MakeBackend (nccl_backend_cuda.cc, or nccl_backend_none.cc without CUDA).
absl::StatusOr<c10::intrusive_ptr<c10d::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
    std::chrono::milliseconds timeout);

}  // namespace videogen::engine::parallel::internal

#endif  // VIDEOGEN_ENGINE_PARALLEL_INTERNAL_BACKEND_H_
