// The process groups of one engine group's ranks (one process per GPU, or per CPU rank in tests)
// and the collectives the parallel engine runs over them, through LibTorch's c10d:
// ProcessGroupNCCL for CUDA devices, ProcessGroupGloo for the CPU. Rendezvous through a c10d
// TCPStore that rank 0 serves. No global state: every collective goes through a context object.
//
// Groups (ParallelLayout's coordinates): kWorld (all ranks), kCfg (the ranks holding the same
// sequence shard of the two CFG branches), kSequence (the ranks splitting one branch's sequence,
// in shard order), kUlysses (one Ulysses group of a ring) and kRing (the ranks of one ring, in
// ring order). A rank belongs to exactly one group of each kind; a group of one rank other than
// kWorld has no backend and its collectives are copies.
//
// Collectives block until done. Every member of a group must make the same calls in the same
// order with equally shaped tensors on device(). A failed collective (a peer process lost, a
// timeout) throws c10::Error, like the LibTorch compute around it; the engine's error boundary
// converts it (engine/common/torch_status.h). After a failure the context is unusable.
//
// Thread-compatibility: one thread at a time (collectives must be issued in the same order on
// every rank).
#ifndef VIDEOGEN_ENGINE_PARALLEL_PARALLEL_CONTEXT_H_
#define VIDEOGEN_ENGINE_PARALLEL_PARALLEL_CONTEXT_H_

#include <array>
#include <memory>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "c10/core/Device.h"
#include "engine/parallel/layout.h"
#include "torch/csrc/distributed/c10d/Backend.hpp"
#include "torch/csrc/distributed/c10d/Store.hpp"

namespace videogen::engine::parallel {

struct ParallelOptions {
  int rank = 0;
  ParallelLayout layout;  // Its world_size() is the number of ranks.
  // Rank 0 serves the rendezvous store at store_host:store_port; the others connect to it.
  std::string store_host = "127.0.0.1";
  int store_port = 29500;
  // CUDA: NCCL on this rank's GPU. CPU: Gloo over the loopback interface (one host).
  c10::Device device = c10::kCPU;
  // How long the rendezvous and any one collective may wait for the other ranks.
  absl::Duration timeout = absl::Minutes(5);
};

class ParallelContext {
 public:
  enum class Group { kWorld, kCfg, kSequence, kUlysses, kRing };

  // Rendezvous with the other ranks and make this rank's groups. INVALID_ARGUMENT for a rank
  // outside the layout's world or a bad layout; UNIMPLEMENTED for CUDA in a build without it;
  // UNAVAILABLE if the rendezvous fails (store unreachable, other ranks missing past the
  // timeout).
  static absl::StatusOr<std::unique_ptr<ParallelContext>> Create(const ParallelOptions& options);
  // Shuts the backends down (NCCL releases its communicators).
  ~ParallelContext();

  int rank() const { return options_.rank; }
  const ParallelLayout& layout() const { return options_.layout; }
  const RankCoordinates& coordinates() const { return coordinates_; }
  const c10::Device& device() const { return options_.device; }

  int Size(Group group) const;
  // This rank's index in `group` (its order: see above).
  int RankIn(Group group) const;

  // output[i] = member i's input[RankIn(group)], for input [Size(group), ...].
  at::Tensor AllToAll(Group group, const at::Tensor& input) const;
  // Every member's input [d0, ...] concatenated in member order: [Size(group) * d0, ...].
  at::Tensor AllGather(Group group, const at::Tensor& input) const;
  // `tensor` becomes member `root`'s.
  void Broadcast(Group group, at::Tensor& tensor, int root) const;
  enum class Reduction { kMax, kSum };
  // `tensor` becomes the element-wise maximum or sum over the members.
  void AllReduce(Group group, at::Tensor& tensor, Reduction reduction) const;

  // A ring step: sends `send` to the next member of this rank's ring and receives the previous
  // member's tensor of the same shape into `receive`. Start() posts both; Wait() completes them.
  class RingExchange {
   public:
    void Wait();

   private:
    friend class ParallelContext;
    c10::intrusive_ptr<c10d::Work> send_, receive_;
  };
  RingExchange StartRingExchange(at::Tensor& send, at::Tensor& receive) const;

 private:
  explicit ParallelContext(const ParallelOptions& options);

  const c10::intrusive_ptr<c10d::Backend>& BackendOf(Group group) const;

  const ParallelOptions options_;
  const RankCoordinates coordinates_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::array<c10::intrusive_ptr<c10d::Backend>, 5> backends_;  // By Group; null: no backend.
};

}  // namespace videogen::engine::parallel

#endif  // VIDEOGEN_ENGINE_PARALLEL_PARALLEL_CONTEXT_H_
