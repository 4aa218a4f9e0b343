// The search's fitness on the real engine: for a candidate schedule, the mean squared error
// between the final latents of the dense run and of the candidate's run, averaged over the
// calibration prompts (each with its own noise seed). The dense latents are computed once, on
// first use, and kept.
//
// Prefix reuse: the state after step i depends only on θ_1..θ_i. A batch is evaluated in
// lexicographic order of the candidates, branching each run from the deepest saved state its
// schedule shares with the previous candidate's; states are saved every `stride` steps along the
// current run, with the stride chosen so that the saved states fit `snapshot_bytes`. The results
// are those of running every candidate from the start (the same steps in the same order).
// With replicas on other devices, the sorted batch is split into contiguous runs evaluated in
// parallel, one per device.
//
// Thread-compatible: one Evaluate() at a time.
#ifndef VIDEOGEN_SEARCH_WORKER_LATENT_FITNESS_H_
#define VIDEOGEN_SEARCH_WORKER_LATENT_FITNESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "engine/wan/pipeline.h"
#include "search_worker/evolution.h"

namespace videogen::search_worker {

struct LatentFitnessOptions {
  bool reuse_prefixes = true;
  int64_t snapshot_bytes = int64_t{16} << 30;  // Device memory for saved states, per device.
  // Copies of the pipeline on other devices (same weights): a batch is split into as many
  // contiguous runs of the sorted candidates, evaluated in parallel. They outlive the fitness.
  std::vector<const engine::wan::Pipeline*> replicas;
};

class LatentFitness {
 public:
  struct Calibration {
    std::vector<std::string> prompts;
    std::vector<uint64_t> seeds;  // One per prompt.
  };
  using Options = LatentFitnessOptions;

  // `base` gives the size, length, steps and guidance of every run (its prompt, seed and schedule
  // are replaced). `pipeline` must outlive this. INVALID_ARGUMENT for no prompts, a seed count
  // that differs from the prompt count, or a request the pipeline refuses.
  static absl::StatusOr<LatentFitness> Create(const engine::wan::Pipeline* pipeline,
                                              const engine::wan::GenerateRequest& base,
                                              Calibration calibration, Options options = {});

  // One MSE per candidate (each `base.steps` levels). The pipeline's errors; CANCELLED if
  // `cancelled` turns true (polled between runs and steps).
  absl::StatusOr<std::vector<double>> Evaluate(const std::vector<Levels>& candidates,
                                               const std::function<bool()>& cancelled = nullptr);

  // PSNR in dB of the decoded video of `levels` against the dense video, averaged over the
  // prompts (uint8 RGB frames; 100 dB for identical videos). The pipeline's errors.
  absl::StatusOr<double> Psnr(const Levels& levels, const std::function<bool()>& cancelled = nullptr);

  // Denoising steps run so far (dense references included) and steps skipped by prefix reuse.
  int64_t steps_computed() const { return steps_computed_; }
  int64_t steps_reused() const { return steps_reused_; }

 private:
  LatentFitness(const engine::wan::Pipeline* pipeline, engine::wan::GenerateRequest base,
                Calibration calibration, Options options)
      : pipeline_(pipeline),
        base_(std::move(base)),
        calibration_(std::move(calibration)),
        options_(options) {}
  engine::wan::GenerateRequest RequestFor(size_t prompt) const;
  struct Counts {
    int64_t computed = 0, reused = 0;
  };
  // The squared errors for prompt `prompt` of the candidates `order[begin, end)` (sorted), added
  // to `mse`, computed on `pipeline`.
  absl::Status AddPromptErrors(const engine::wan::Pipeline& pipeline, size_t prompt,
                               const std::vector<Levels>& candidates,
                               const std::vector<size_t>& order, size_t begin, size_t end,
                               const std::function<bool()>& cancelled, std::vector<double>& mse,
                               Counts& counts) const;

  const engine::wan::Pipeline* pipeline_;
  engine::wan::GenerateRequest base_;
  Calibration calibration_;
  Options options_;
  std::vector<at::Tensor> dense_;         // Per prompt, once computed.
  std::vector<at::Tensor> dense_frames_;  // Decoded, per prompt, once computed.
  int64_t steps_computed_ = 0;
  int64_t steps_reused_ = 0;
};

}  // namespace videogen::search_worker

#endif  // VIDEOGEN_SEARCH_WORKER_LATENT_FITNESS_H_
