#include "engine/parallel/parallel_denoiser.h"

#include "ATen/ATen.h"
#include "engine/common/status_macros.h"
#include "engine/parallel/sequence_attention.h"

namespace videogen::engine::parallel {

ParallelDenoiser::ParallelDenoiser(const wan::Transformer& transformer,
                                   const astraea::SparseTransformer& sparse,
                                   const ParallelContext& context)
    : transformer_(transformer), sparse_(sparse), context_(context) {}

bool ParallelDenoiser::RunsBranch(bool prompt) const {
  if (context_.layout().cfg == 1) return true;
  return context_.coordinates().cfg == (prompt ? 0 : 1);
}

absl::StatusOr<at::Tensor> ParallelDenoiser::RunBranch(
    const at::Tensor& latents, const at::Tensor& timestep, const Branch& branch,
    const wan::SequenceParallel& sequence) const {
  if (branch.text == nullptr) {
    return absl::InvalidArgumentError("a branch this rank runs has no text context");
  }
  if (branch.state == nullptr)
    return transformer_.Forward(latents, timestep, *branch.text, &sequence);
  return sparse_.Forward(latents, timestep, *branch.text, *branch.state, &sequence);
}

absl::StatusOr<at::Tensor> ParallelDenoiser::Predict(const at::Tensor& latents,
                                                     const at::Tensor& timestep,
                                                     const Branch& prompt, const Branch& negative,
                                                     bool guided, double guidance_scale) const {
  const SequenceAttention sequence(context_, transformer_.GridOf(latents).tokens());
  if (!guided) {
    if (context_.layout().cfg != 1) {
      return absl::InvalidArgumentError("a job without guidance cannot run CFG-parallel");
    }
    return RunBranch(latents, timestep, prompt, sequence);
  }
  at::Tensor cond, uncond;
  if (RunsBranch(/*prompt=*/true)) {
    VG_ASSIGN_OR_RETURN(cond, RunBranch(latents, timestep, prompt, sequence));
  }
  if (RunsBranch(/*prompt=*/false)) {
    VG_ASSIGN_OR_RETURN(uncond, RunBranch(latents, timestep, negative, sequence));
  }
  if (context_.layout().cfg == 2) {
    // Member 0 of the CFG group holds the prompt's prediction, member 1 the negative one's.
    const at::Tensor both =
        context_.AllGather(ParallelContext::Group::kCfg, cond.defined() ? cond : uncond);
    cond = both.narrow(0, 0, latents.size(0));
    uncond = both.narrow(0, latents.size(0), latents.size(0));
  }
  return uncond + guidance_scale * (cond - uncond);
}

}  // namespace videogen::engine::parallel
