// The job protocol of one engine group (ARCHITECTURE.md "Parallel runtime"): rank 0, the leader
// (in the server process), runs jobs; the other ranks, the followers (one process per GPU),
// serve it until told to stop. For each job the leader broadcasts the request to the group, and
// every rank then runs the same Pipeline::GenerateLatents in lockstep (the pipeline agrees on
// cancellation at every step boundary and broadcasts the leader's prompt embeddings). Only the
// leader decodes the video.
//
// Failure: a collective that fails (a rank died, a timeout) ends the job with an error on every
// surviving rank instead of hanging, and leaves the group broken: healthy() turns false and the
// group must be restarted (its processes and its context). So does any other failure of a job
// once it reached the followers (other than cancellation, which all ranks agree on): the ranks
// may then have stopped at different collectives.
//
// Thread-compatibility: a GroupLeader runs one job at a time.
#ifndef VIDEOGEN_ENGINE_PARALLEL_ENGINE_GROUP_H_
#define VIDEOGEN_ENGINE_PARALLEL_ENGINE_GROUP_H_

#include <atomic>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/parallel/parallel_context.h"
#include "engine/wan/pipeline.h"

namespace videogen::engine::parallel {

class GroupLeader {
 public:
  // The group's models, in an order every rank shares, each a pipeline created with `context`
  // (rank 0); all must outlive the leader.
  GroupLeader(std::vector<const wan::Pipeline*> pipelines, const ParallelContext& context);

  // False once a collective has failed: the group can run no more jobs.
  bool healthy() const { return healthy_.load(); }

  // Pipeline::GenerateLatents of model `model` (an index into the pipelines) over the whole
  // group. Its errors, plus UNAVAILABLE if the group is broken or breaks during the job (the
  // status says which collective failed); INVALID_ARGUMENT for an unknown model.
  absl::StatusOr<at::Tensor> GenerateLatents(
      int model, const wan::GenerateRequest& request, const wan::Pipeline::StepCallback& on_step,
      const wan::Pipeline::CancelCheck& cancelled,
      const wan::Pipeline::StageCallback& on_stage = nullptr) const;

  // Tells the followers to return from ServeFollower(). UNAVAILABLE if the group is broken.
  absl::Status Shutdown() const;

 private:
  const std::vector<const wan::Pipeline*> pipelines_;
  const ParallelContext& context_;
  mutable std::atomic<bool> healthy_{true};
};

// A follower's loop: runs every job the leader broadcasts until the leader's Shutdown(). Ends
// with UNAVAILABLE when the group breaks (a job that fails other than by cancellation breaks
// it). `pipelines` are the leader's models in its order, created with `context` (a rank other
// than 0).
absl::Status ServeFollower(const std::vector<const wan::Pipeline*>& pipelines,
                           const ParallelContext& context);

}  // namespace videogen::engine::parallel

#endif  // VIDEOGEN_ENGINE_PARALLEL_ENGINE_GROUP_H_
