// Acceleration policies beside ASTRAEA (issue 10): training-free schemes that skip part of the
// transformer's work at some denoising steps by reusing results of earlier steps. A Policy is a
// plain, immutable value of settings: it holds no model, so one policy may serve any number of
// models, jobs and threads at once. Start() begins one BranchRun per CFG branch of a job on a
// Transformer that the run borrows (it must outlive the run; the run does not need the policy);
// the run holds that branch's caches through the job's steps and is used by one thread at a time.
//
//   PAB (pab.h)              attention outputs broadcast over ranges of steps
//   ToCa (toca.h)            token-wise caching of cross-attention and feed-forward rows
//   Δ-DiT (delta_dit.h)      residuals of the front or back blocks reused
//   TeaCache (teacache.h)    whole steps skipped while the input's accumulated change is small
//
// Every policy with its reuse turned off computes Transformer::Forward's result exactly, and
// reports its work in the FLOPs of engine/accel/work.h.
#ifndef VIDEOGEN_ENGINE_ACCEL_POLICY_H_
#define VIDEOGEN_ENGINE_ACCEL_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

// One CFG branch of one job: the model's prediction step after step.
class BranchRun {
 public:
  virtual ~BranchRun() = default;

  // The prediction at the next step, Transformer::Forward's contract (batch 1) with the branch's
  // text side from Transformer::EncodeText. INVALID_ARGUMENT for inputs ValidateInputs rejects,
  // a batch other than 1, or a run whose steps have all run; FAILED_PRECONDITION if the token
  // grid changed between steps. LibTorch failures throw (engine/common/torch_status.h).
  virtual absl::StatusOr<at::Tensor> Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                             const wan::Transformer::TextContext& text) = 0;

  // Steps run so far.
  virtual int steps_done() const = 0;
  // Floating-point operations of the steps so far (work.h), and a dense run's for the same
  // steps; their ratio is the policy's compute saving.
  virtual double flops() const = 0;
  virtual double dense_flops() const = 0;
  // Bytes held by the caches now.
  virtual int64_t CacheBytes() const = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;

  // The settings, e.g. "pab(self=2,cross=6,untouched=0.15)", in the grammar
  //   description := name "(" [entry ("," entry)*] ")"
  //   entry       := key "=" value
  //   value       := number | "[" [number ("," number)*] "]"
  // with no spaces; name and key are lower-case identifiers ([a-z_][a-z0-9_]*), and numbers are
  // finite decimals, possibly with an exponent ("2", "0.15", "1e-05"), written by FormatNumber
  // (reuse.h) so that std::strtod reads back exactly the setting.
  virtual std::string Describe() const = 0;
  // State for one branch of a job of `steps` denoising steps on `transformer`, which must
  // outlive the run. INVALID_ARGUMENT if the settings do not fit `steps` (steps < 1 included)
  // or the model, e.g. Δ-DiT's cached_blocks above the model's num_layers.
  virtual absl::StatusOr<std::unique_ptr<BranchRun>> Start(const wan::Transformer& transformer,
                                                           int steps) const = 0;
};

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_POLICY_H_
