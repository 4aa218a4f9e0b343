// One denoising step's model prediction computed by the ranks of a ParallelContext: each rank
// runs the classifier-free-guidance branches its CFG index owns (both with cfg = 1; the prompt
// with index 0 and the negative prompt with index 1 when cfg = 2) sequence-parallel over its
// sequence group, and the CFG ranks exchange their predictions, so that every rank of the
// engine group ends the step with the same guided prediction and can step its scheduler in
// lockstep. The arithmetic is the single-process pipeline's (engine/wan/pipeline.h): each
// branch as Transformer::Forward / SparseTransformer::Forward computes it, combined as
// neg + g · (pos − neg) in the run dtype.
#ifndef VIDEOGEN_ENGINE_PARALLEL_PARALLEL_DENOISER_H_
#define VIDEOGEN_ENGINE_PARALLEL_PARALLEL_DENOISER_H_

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/parallel/parallel_context.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::parallel {

class ParallelDenoiser {
 public:
  // One CFG branch of a job on this rank: its text side and, for a sparse run, its ASTRAEA
  // state (this rank's shard of it); null text for a branch this rank does not run.
  struct Branch {
    const wan::Transformer::TextContext* text = nullptr;
    astraea::SparseState* state = nullptr;  // Null: the dense model.
  };

  // Borrows all three; they must outlive the denoiser.
  ParallelDenoiser(const wan::Transformer& transformer, const astraea::SparseTransformer& sparse,
                   const ParallelContext& context);

  // Whether this rank runs the prompt (negative: false) branch of a guided job.
  bool RunsBranch(bool prompt) const;

  // The guided prediction (or the prompt branch's alone when `guided` is false), in the run
  // dtype, identical on every rank. Every rank of the context calls it with the same latents
  // and timestep. INVALID_ARGUMENT if a branch this rank runs lacks its text, or for what the
  // forwards reject; failures of LibTorch or a collective throw (callers convert).
  absl::StatusOr<at::Tensor> Predict(const at::Tensor& latents, const at::Tensor& timestep,
                                     const Branch& prompt, const Branch& negative, bool guided,
                                     double guidance_scale) const;

 private:
  absl::StatusOr<at::Tensor> RunBranch(const at::Tensor& latents, const at::Tensor& timestep,
                                       const Branch& branch,
                                       const wan::SequenceParallel& sequence) const;

  const wan::Transformer& transformer_;
  const astraea::SparseTransformer& sparse_;
  const ParallelContext& context_;
};

}  // namespace videogen::engine::parallel

#endif  // VIDEOGEN_ENGINE_PARALLEL_PARALLEL_DENOISER_H_
