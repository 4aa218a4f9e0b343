#include "engine/parallel/parallel_context.h"

#include <chrono>
#include <exception>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/parallel/internal/backend.h"
#include "torch/csrc/distributed/c10d/PrefixStore.hpp"
#include "torch/csrc/distributed/c10d/TCPStore.hpp"

namespace videogen::engine::parallel {
namespace {

using Group = ParallelContext::Group;
constexpr Group kGroups[] = {Group::kWorld, Group::kCfg, Group::kSequence, Group::kUlysses,
                             Group::kRing};

// A group's members vary one or more coordinates and fix the others. Returns the group's size,
// this rank's index in it and a store prefix that names the group instance.
struct Membership {
  int size = 1;
  int index = 0;
  std::string name;
};

Membership MembershipOf(Group group, const ParallelLayout& layout, const RankCoordinates& c,
                        int rank) {
  switch (group) {
    case Group::kWorld:
      return {layout.world_size(), rank, "world"};
    case Group::kCfg:
      return {layout.cfg, c.cfg, absl::StrCat("cfg/ring", c.ring, "/ulysses", c.ulysses)};
    case Group::kSequence:
      return {layout.sequence_size(), c.shard(layout), absl::StrCat("sequence/cfg", c.cfg)};
    case Group::kUlysses:
      return {layout.ulysses, c.ulysses, absl::StrCat("ulysses/cfg", c.cfg, "/ring", c.ring)};
    case Group::kRing:
      return {layout.ring, c.ring, absl::StrCat("ring/cfg", c.cfg, "/ulysses", c.ulysses)};
  }
  return {};
}

std::chrono::milliseconds Milliseconds(absl::Duration duration) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(duration));
}

void Wait(const c10::intrusive_ptr<c10d::Work>& work) {
  TORCH_CHECK(work->wait(), "a collective operation did not complete");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ParallelContext>> ParallelContext::Create(
    const ParallelOptions& options) {
  const ParallelLayout& layout = options.layout;
  if (layout.cfg < 1 || layout.ulysses < 1 || layout.ring < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("parallel layout ", layout.ToString(), ": every degree must be >= 1"));
  }
  if (options.rank < 0 || options.rank >= layout.world_size()) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " is outside [0, ",
                                                   layout.world_size(), ") of layout ",
                                                   layout.ToString()));
  }
  if (options.store_port < 1 || options.store_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("store port ", options.store_port, " is outside [1, 65535]"));
  }
  std::unique_ptr<ParallelContext> context(new ParallelContext(options));
  try {
    c10d::TCPStoreOptions store;
    store.port = static_cast<uint16_t>(options.store_port);
    store.isServer = options.rank == 0;
    store.numWorkers = layout.world_size();
    store.timeout = Milliseconds(options.timeout);
    context->store_ = c10::make_intrusive<c10d::TCPStore>(options.store_host, store);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", options.rank, ": rendezvous at ",
                                               options.store_host, ":", options.store_port,
                                               " failed: ", e.what()));
  }
  for (Group group : kGroups) {
    const Membership member = MembershipOf(group, layout, context->coordinates_, options.rank);
    // The world group always has a backend (so that one rank runs the same job protocol);
    // smaller groups of one rank have nothing to exchange.
    if (member.size == 1 && group != Group::kWorld) continue;
    VG_ASSIGN_OR_RETURN(
        context->backends_[static_cast<int>(group)],
        internal::MakeBackend(c10::make_intrusive<c10d::PrefixStore>(member.name, context->store_),
                              member.index, member.size, options.device,
                              Milliseconds(options.timeout)));
  }
  return context;
}

ParallelContext::ParallelContext(const ParallelOptions& options)
    : options_(options), coordinates_(CoordinatesOf(options.layout, options.rank)) {}

ParallelContext::~ParallelContext() {
  for (const auto& backend : backends_) {
    if (!backend) continue;
    try {
      backend->shutdown();
    } catch (const std::exception&) {
      // A broken group's backend may fail to shut down cleanly; the process is leaving it.
    }
  }
}

int ParallelContext::Size(Group group) const {
  return MembershipOf(group, options_.layout, coordinates_, options_.rank).size;
}

int ParallelContext::RankIn(Group group) const {
  return MembershipOf(group, options_.layout, coordinates_, options_.rank).index;
}

const c10::intrusive_ptr<c10d::Backend>& ParallelContext::BackendOf(Group group) const {
  return backends_[static_cast<int>(group)];
}

at::Tensor ParallelContext::AllToAll(Group group, const at::Tensor& input) const {
  TORCH_CHECK(input.dim() >= 1 && input.size(0) == Size(group),
              "all-to-all input's first "
              "dimension must be the group size ",
              Size(group));
  const auto& backend = BackendOf(group);
  if (!backend) return input.clone();
  at::Tensor send = input.contiguous();
  at::Tensor output = at::empty_like(send);
  std::vector<int64_t> equal_splits;
  Wait(backend->alltoall_base(output, send, equal_splits, equal_splits));
  return output;
}

at::Tensor ParallelContext::AllGather(Group group, const at::Tensor& input) const {
  const auto& backend = BackendOf(group);
  if (!backend) return input.clone();
  std::vector<at::Tensor> inputs = {input.contiguous()};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int i = 0; i < Size(group); ++i) outputs[0].push_back(at::empty_like(inputs[0]));
  Wait(backend->allgather(outputs, inputs));
  return at::cat(outputs[0]);
}

void ParallelContext::Broadcast(Group group, at::Tensor& tensor, int root) const {
  const auto& backend = BackendOf(group);
  if (!backend) return;
  TORCH_CHECK(tensor.is_contiguous(), "broadcast needs a contiguous tensor");
  std::vector<at::Tensor> tensors = {tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  Wait(backend->broadcast(tensors, options));
}

void ParallelContext::AllReduce(Group group, at::Tensor& tensor, Reduction reduction) const {
  const auto& backend = BackendOf(group);
  if (!backend) return;
  TORCH_CHECK(tensor.is_contiguous(), "all-reduce needs a contiguous tensor");
  std::vector<at::Tensor> tensors = {tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = reduction == Reduction::kMax ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
  Wait(backend->allreduce(tensors, options));
}

ParallelContext::RingExchange ParallelContext::StartRingExchange(at::Tensor& send,
                                                                 at::Tensor& receive) const {
  const auto& backend = BackendOf(Group::kRing);
  TORCH_CHECK(backend, "a ring exchange needs a ring of more than one rank");
  TORCH_CHECK(send.is_contiguous() && receive.is_contiguous() && send.sizes() == receive.sizes(),
              "a ring exchange sends and receives contiguous tensors of one shape");
  const int size = Size(Group::kRing);
  const int index = RankIn(Group::kRing);
  std::vector<at::Tensor> sends = {send}, receives = {receive};
  RingExchange exchange;
  // NCCL pairs a send with the matching receive only when both are posted in one group, so the
  // even ranks send first and the odd ones receive first.
  if (index % 2 == 0) {
    exchange.send_ = backend->send(sends, (index + 1) % size, /*tag=*/0);
    exchange.receive_ = backend->recv(receives, (index + size - 1) % size, /*tag=*/0);
  } else {
    exchange.receive_ = backend->recv(receives, (index + size - 1) % size, /*tag=*/0);
    exchange.send_ = backend->send(sends, (index + 1) % size, /*tag=*/0);
  }
  return exchange;
}

void ParallelContext::RingExchange::Wait() {
  if (send_) parallel::Wait(send_);
  if (receive_) parallel::Wait(receive_);
  send_.reset();
  receive_.reset();
}

}  // namespace videogen::engine::parallel
