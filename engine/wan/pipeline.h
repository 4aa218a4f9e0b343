// The Wan2.1 text-to-video pipeline (diffusers' WanPipeline): prompt and negative prompt -> umT5
// embeddings -> seeded noise -> scheduler loop over the transformer with classifier-free
// guidance -> VAE decode -> uint8 RGB frames.
//
// Reproducibility: the initial latents are float32 normal noise drawn on the CPU from LibTorch's
// CPU generator seeded with `seed`, exactly as diffusers draws them from
// torch.Generator().manual_seed(seed), so the same request gives the same latents as diffusers
// (and as this engine on any device).
//
// Parallel runs (Components::parallel, engine/parallel): every rank of an engine group holds a
// Pipeline over its own copy of the transformer on its own device, and all of them call
// StartTrajectory()/Advance() (or GenerateLatents()) with the same request in lockstep
// (engine/parallel/engine_group.h arranges that). Each rank runs its CFG branches over its shard
// of the tokens (engine/parallel/parallel_denoiser.h); rank 0 alone needs the tokenizer, the text
// encoder (its prompt embeddings are broadcast) and the VAE's weights (it decodes); the other
// ranks need only the VAE's configuration; every rank ends each step with the same latents.
//
// Thread-safety: Generate() and its stages may run concurrently on one Pipeline (each call makes
// its own scheduler and decoder state); components are immutable. A parallel pipeline runs one
// trajectory at a time (its collectives must be issued in the same order on every rank).
#ifndef VIDEOGEN_ENGINE_WAN_PIPELINE_H_
#define VIDEOGEN_ENGINE_WAN_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/accel/policy.h"
#include "engine/astraea/schedule.h"
#include "engine/astraea/sparse_transformer.h"
#include "engine/parallel/parallel_context.h"
#include "engine/parallel/parallel_denoiser.h"
#include "engine/scheduler/flow_scheduler.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/text/tokenizer.h"
#include "engine/text/umt5_encoder.h"
#include "engine/wan/transformer.h"
#include "engine/wan/vae_config.h"
#include "engine/wan/vae_decoder.h"

namespace videogen::engine::wan {

struct GenerateRequest {
  std::string prompt;
  std::string negative_prompt;  // diffusers' default: "" (not the original repo's Chinese text).
  int64_t height = 480;         // Pixels; a multiple of 16 (VAE factor 8 x patch 2).
  int64_t width = 832;
  int64_t frames = 81;  // 4k + 1.
  int steps = 50;
  double guidance_scale = 5.0;  // Classifier-free guidance runs when > 1.
  uint64_t seed = 0;
  int64_t max_sequence_length = 512;  // Text tokens (padded/truncated to this).
  // ASTRAEA: the fraction of tokens each transformer block computes at each step (`steps`
  // entries). Unset runs the dense model.
  std::optional<astraea::BudgetSchedule> schedule;
  // A baseline acceleration (PAB, ToCa, Δ-DiT, TeaCache: engine/accel/policy.h) instead of a
  // schedule; single-process pipelines only. Null runs the dense model (or the schedule).
  std::shared_ptr<const accel::Policy> acceleration;
};

// The stages of a generation, in order (JobStage in the API).
enum class Stage { kTextEncoding, kDenoising, kVaeDecoding };

struct StepEvent {
  int step = 0;  // 1-based: the number of steps completed.
  int total_steps = 0;
  // Tokens the transformer blocks computed in this step, summed over blocks and CFG branches,
  // and the same for the dense model (tokens x blocks x branches). Under an acceleration policy,
  // which skips branches of blocks rather than tokens, the dense count scaled by the step's
  // share of the dense FLOPs (engine/accel/work.h).
  int64_t tokens_computed = 0;
  int64_t dense_tokens = 0;
};

class Pipeline {
 public:
  // A denoising run advanced one step at a time (Advance) that can be branched (Branch) at a step
  // boundary: the state after step i depends only on the request and θ_1..θ_i, so runs whose
  // schedules share a prefix can share its steps (the schedule search's prefix reuse). Movable;
  // branches are independent.
  class Trajectory {
   public:
    Trajectory(Trajectory&&) = default;
    Trajectory& operator=(Trajectory&&) = default;
    int steps_done() const { return step_; }
    int steps() const { return steps_; }
    // The latents after steps_done() steps, float32.
    const at::Tensor& latents() const { return latents_; }
    // Bytes a Branch() of this run allocates on its device (the ASTRAEA states or acceleration
    // caches, and the latents).
    int64_t StateBytes() const;
    // An independent copy of this run's state (the ASTRAEA states deep-copied; immutable tensors
    // shared). INTERNAL if LibTorch fails to copy; FAILED_PRECONDITION for a run under an
    // acceleration policy, whose caches are not copied.
    absl::StatusOr<Trajectory> Branch() const;

   private:
    friend class Pipeline;
    Trajectory() = default;

    int steps_ = 0;
    int step_ = 0;
    double guidance_scale_ = 1;
    bool guided_ = false;
    int64_t dense_step_tokens_ = 0;
    std::unique_ptr<scheduler::FlowScheduler> scheduler_;
    at::Tensor timesteps_;
    at::Tensor latents_;
    Transformer::TextContext prompt_text_, negative_text_;
    std::optional<astraea::SparseState> prompt_state_, negative_state_;
    std::unique_ptr<accel::BranchRun> prompt_run_, negative_run_;
  };

  // Called after every denoising step, on the calling thread. Must not block for long.
  using StepCallback = std::function<void(const StepEvent&)>;
  // Polled before every step; true stops the run with CANCELLED.
  using CancelCheck = std::function<bool()>;
  // Called as each stage starts, on the calling thread.
  using StageCallback = std::function<void(Stage)>;

  struct Components {
    std::unique_ptr<text::Tokenizer> tokenizer;
    std::unique_ptr<text::Umt5Encoder> text_encoder;
    std::unique_ptr<Transformer> transformer;
    std::unique_ptr<VaeDecoder> vae;
    // Without `vae` (ranks other than 0 of a parallel pipeline): its configuration, which sizes
    // and validates requests. Ignored when `vae` is set.
    std::optional<VaeConfig> vae_config;
    scheduler::FlowSchedulerConfig scheduler_config;
    astraea::SparseOptions sparse;  // How requests with a schedule run.
    // This pipeline is one rank of an engine group (borrowed; must outlive the pipeline), whose
    // device the transformer must be on. Null: a single-process pipeline.
    const parallel::ParallelContext* parallel = nullptr;
  };

  // INVALID_ARGUMENT if a component is missing (the tokenizer, the text encoder and the VAE may be
  // on rank 0 of a parallel pipeline only, the others having vae_config), the text encoder's width
  // differs from the transformer's
  // text_dim, the VAE's latent channels differ from the transformer's, the scheduler config is
  // invalid, or a parallel context's device is not the transformer's.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(Components components);

  // Loads a diffusers-format folder: tokenizer/, text_encoder/, transformer/, scheduler/, vae/
  // (the text encoder and transformer in `dtype` with their keep-in-fp32 rules, the VAE in
  // float32 as diffusers runs it, all on `device`). With `parallel` (Components::parallel), ranks
  // other than 0 skip the tokenizer and text encoder and read only the VAE's configuration.
  // `sparse` is Components::sparse (e.g. an ASTRAEA ablation mode for comparisons).
  static absl::StatusOr<std::unique_ptr<Pipeline>> Load(
      const std::string& model_dir, c10::ScalarType dtype, const at::Device& device,
      const parallel::ParallelContext* parallel = nullptr,
      const astraea::SparseOptions& sparse = {});

  const Transformer& transformer() const { return *components_.transformer; }

  // INVALID_ARGUMENT naming the field and the allowed values (a schedule must have `steps`
  // entries; an acceleration policy must fit `steps`, and cannot go with a schedule or run on
  // an engine group).
  absl::Status Validate(const GenerateRequest& request) const;

  // The pipeline's prompt_embeds for one prompt: [1, max_length, text_dim], rows past the
  // prompt's tokens zeroed, in the transformer's dtype on its device.
  absl::StatusOr<at::Tensor> EncodePrompt(const std::string& prompt, int64_t max_length) const;

  // The seeded initial latents, [1, in_channels, (frames-1)/4+1, height/8, width/8] float32 on
  // the transformer's device (4 and 8: the VAE's temporal and spatial factors).
  at::Tensor InitialLatents(const GenerateRequest& request) const;

  // Encodes the text, draws the noise and prepares `request`'s run without running a step.
  // Validate()'s errors; RESOURCE_EXHAUSTED / INTERNAL for LibTorch failures. With `open_ended`
  // (the request must have a schedule) each Advance() may choose its step's level.
  absl::StatusOr<Trajectory> StartTrajectory(const GenerateRequest& request,
                                             bool open_ended = false) const;
  // Runs the next step, at `level` (θ·10) if set (an open-ended trajectory only), and returns its
  // event (in a parallel run, with the whole group's token counts). INVALID_ARGUMENT once every
  // step has run or for a level it cannot take; RESOURCE_EXHAUSTED / INTERNAL for LibTorch or
  // collective failures.
  absl::StatusOr<StepEvent> Advance(Trajectory& trajectory,
                                    std::optional<int> level = std::nullopt) const;

  // Runs the request up to the final latents (float32, shape as InitialLatents()). Errors:
  // Validate()'s; CANCELLED if `cancelled` returns true before a step (in a parallel run, on any
  // rank: the ranks agree before every step, so all stop at the same one); RESOURCE_EXHAUSTED /
  // INTERNAL for LibTorch failures (out of memory / other), with the step.
  // `on_stage` (optional) hears kTextEncoding and kDenoising.
  absl::StatusOr<at::Tensor> GenerateLatents(const GenerateRequest& request,
                                             const StepCallback& on_step,
                                             const CancelCheck& cancelled,
                                             const StageCallback& on_stage = nullptr) const;

  // Decodes final latents of one video to its frames, uint8 RGB [frames, height, width, 3] on
  // the CPU. INVALID_ARGUMENT for latents the VAE cannot decode; FAILED_PRECONDITION on a rank
  // without the VAE's weights; RESOURCE_EXHAUSTED / INTERNAL for LibTorch failures.
  absl::StatusOr<at::Tensor> DecodeFrames(const at::Tensor& latents,
                                          const VaeDecodeOptions& options = {}) const;

  // The decode that ends a generation: CANCELLED if `cancelled` (optional) returns true, else
  // `on_stage` (optional) hears kVaeDecoding and DecodeFrames() runs.
  absl::StatusOr<at::Tensor> FinishFrames(const at::Tensor& latents, const CancelCheck& cancelled,
                                          const StageCallback& on_stage) const;

  // GenerateLatents() then FinishFrames().
  absl::StatusOr<at::Tensor> Generate(const GenerateRequest& request, const StepCallback& on_step,
                                      const CancelCheck& cancelled,
                                      const StageCallback& on_stage = nullptr) const;

 private:
  Pipeline(Components components, std::unique_ptr<astraea::SparseTransformer> sparse);
  // The prompt's embeddings (EncodePrompt()); in a parallel run, rank 0's, broadcast.
  absl::StatusOr<at::Tensor> PromptEmbeddings(const std::string& prompt, int64_t max_length) const;
  // In a parallel run, whether any rank's `stop` is true (single process: `stop`).
  absl::StatusOr<bool> AnyRank(bool stop, const std::string& what) const;

  Components components_;
  VaeConfig vae_config_;  // The VAE's, or Components::vae_config.
  std::unique_ptr<astraea::SparseTransformer> sparse_;
  std::unique_ptr<parallel::ParallelDenoiser> denoiser_;  // Parallel runs only.
};

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_PIPELINE_H_
