// The Wan2.1 text-to-video denoising pipeline (diffusers' WanPipeline), up to the latents:
// prompt and negative prompt -> umT5 embeddings -> seeded noise -> scheduler loop over the
// transformer with classifier-free guidance.
//
// Reproducibility: the initial latents are float32 normal noise drawn on the CPU from LibTorch's
// CPU generator seeded with `seed`, exactly as diffusers draws them from
// torch.Generator().manual_seed(seed), so the same request gives the same latents as diffusers
// (and as this engine on any device).
//
// Thread-safety: GenerateLatents() may run concurrently on one Pipeline (each call makes its own
// scheduler); components are immutable.
#ifndef VIDEOGEN_ENGINE_WAN_PIPELINE_H_
#define VIDEOGEN_ENGINE_WAN_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/text/tokenizer.h"
#include "engine/text/umt5_encoder.h"
#include "engine/wan/transformer.h"

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
};

struct StepEvent {
  int step = 0;  // 1-based: the number of steps completed.
  int total_steps = 0;
};

class Pipeline {
 public:
  // Called after every denoising step, on the calling thread. Must not block for long.
  using StepCallback = std::function<void(const StepEvent&)>;
  // Polled before every step; true stops the run with CANCELLED.
  using CancelCheck = std::function<bool()>;

  struct Components {
    std::unique_ptr<text::Tokenizer> tokenizer;
    std::unique_ptr<text::Umt5Encoder> text_encoder;
    std::unique_ptr<Transformer> transformer;
    scheduler::FlowSchedulerConfig scheduler_config;
  };

  // Wan2.1's VAE factors (the latents are frames/4 + 1 by height/8 by width/8).
  static constexpr int64_t kTemporalFactor = 4;
  static constexpr int64_t kSpatialFactor = 8;

  // INVALID_ARGUMENT if a component is missing, the text encoder's width differs from the
  // transformer's text_dim, or the scheduler config is invalid.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(Components components);

  // Loads a diffusers-format folder: tokenizer/, text_encoder/, transformer/, scheduler/ (the
  // text encoder and transformer in `dtype` with their keep-in-fp32 rules, on `device`).
  static absl::StatusOr<std::unique_ptr<Pipeline>> Load(const std::string& model_dir,
                                                        c10::ScalarType dtype,
                                                        const at::Device& device);

  const Transformer& transformer() const { return *components_.transformer; }

  // INVALID_ARGUMENT naming the field and the allowed values.
  absl::Status Validate(const GenerateRequest& request) const;

  // The pipeline's prompt_embeds for one prompt: [1, max_length, text_dim], rows past the
  // prompt's tokens zeroed, in the transformer's dtype on its device.
  absl::StatusOr<at::Tensor> EncodePrompt(const std::string& prompt, int64_t max_length) const;

  // The seeded initial latents, [1, in_channels, (frames-1)/4+1, height/8, width/8] float32 on
  // the transformer's device.
  at::Tensor InitialLatents(const GenerateRequest& request) const;

  // Runs the request up to the final latents (float32, shape as InitialLatents()). Errors:
  // Validate()'s; CANCELLED if `cancelled` returns true before a step; RESOURCE_EXHAUSTED /
  // INTERNAL for LibTorch failures (out of memory / other), with the step.
  absl::StatusOr<at::Tensor> GenerateLatents(const GenerateRequest& request,
                                             const StepCallback& on_step,
                                             const CancelCheck& cancelled) const;

 private:
  explicit Pipeline(Components components);
  Components components_;
};

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_PIPELINE_H_
