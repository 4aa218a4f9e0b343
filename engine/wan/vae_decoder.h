// The decoder of AutoencoderKLWan (the Wan2.1 video VAE) in LibTorch, following diffusers:
// latents [B, z_dim, T, h, w] -> video [B, out_channels, 1 + 4(T-1), 8h, 8w] in [-1, 1].
//
// Structure (config-driven; Wan2.1: channels [384, 384, 384, 192, 96]): post_quant_conv ->
// conv_in -> mid block (residual, per-frame single-head attention, residual) -> up blocks of
// residual blocks, each but the last followed by a 2x spatial (and, where configured, 2x
// temporal) upsampling -> RMS norm, SiLU, conv_out -> clamp. Every 3-D convolution is causal
// in time: it sees the current and the two previous frames, with zeros before the first. The
// first frame is never upsampled in time, hence 1 + 4(T-1) frames.
//
// Chunked decode: diffusers decodes one latent frame at a time, carrying each causal conv's
// last two input frames over to the next call. This decoder carries the same state across
// chunks of `latent_frames_per_chunk` latent frames, which computes the same function (up to
// floating-point summation order) with fewer, larger convolutions; the chunk size bounds the
// activation memory.
//
// Errors: Create()/Load() return absl::Status; Decode() calls LibTorch and may throw c10::Error
// (e.g. out of device memory): callers convert at their boundary (engine/common/torch_status.h).
// Thread-safe: Decode() is const and keeps its state on the stack; weights are immutable.
#ifndef VIDEOGEN_ENGINE_WAN_VAE_DECODER_H_
#define VIDEOGEN_ENGINE_WAN_VAE_DECODER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/wan/vae_config.h"
#include "engine/weights/checkpoint.h"

namespace videogen::engine::wan {

struct VaeDecodeOptions {
  // Latent frames decoded per chunk: 1 is diffusers' frame-by-frame decode; 0 decodes all at
  // once. Peak activation memory grows linearly with it, and larger chunks barely pay on an
  // H100 at 480x832 (81 frames: 3.19 s and 9.0 GiB at 1, 3.00 s and 22.7 GiB at 4;
  // bench/results/2026-11-23_h100_generation.md), hence 1.
  int64_t latent_frames_per_chunk = 1;
};

class VaeDecoder {
 public:
  // Parameter names and shapes the decoder reads (post_quant_conv.* and decoder.*).
  static ParameterShapes Parameters(const VaeConfig& config);

  // Takes `weights` and moves them to `device`. INVALID_ARGUMENT if a tensor is missing or
  // misshaped.
  static absl::StatusOr<std::unique_ptr<VaeDecoder>> Create(
      const VaeConfig& config, std::map<std::string, at::Tensor> weights, const at::Device& device);

  // Loads `dir`/config.json and the decoder's weights from `dir` (a diffusers `vae/` folder; the
  // encoder's tensors are skipped) in `dtype` (diffusers runs the VAE in float32).
  static absl::StatusOr<std::unique_ptr<VaeDecoder>> Load(const std::string& dir,
                                                          c10::ScalarType dtype,
                                                          const at::Device& device);

  const VaeConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  const at::Device& device() const { return device_; }

  // INVALID_ARGUMENT unless `latents` is a floating-point [B, z_dim, T >= 1, h, w] tensor on the
  // decoder's device, or if `options` is invalid.
  absl::Status Validate(const at::Tensor& latents, const VaeDecodeOptions& options = {}) const;

  // Decodes latents as the transformer produces them (normalised): WanPipeline's
  // z / (1 / latents_std) + latents_mean in the decoder's dtype, then the decoder, clamped to
  // [-1, 1]. Returns [B, out_channels, 1 + TemporalFactor() (T-1), h * SpatialFactor(),
  // w * SpatialFactor()] in the decoder's dtype.
  at::Tensor Decode(const at::Tensor& latents, const VaeDecodeOptions& options = {}) const;

 private:
  struct Conv {
    at::Tensor weight, bias;  // 3-D kernel [out, in, kt, kh, kw]; 2-D kernels get kt = 1.
  };
  struct ResidualBlock {
    at::Tensor norm1, norm2;  // RMS norm gains [C, 1, 1, 1].
    Conv conv1, conv2;
    Conv shortcut;  // 1x1x1, when the block changes the channel count; else undefined.
  };
  struct AttentionBlock {
    at::Tensor norm;  // [C, 1, 1].
    Conv to_qkv, proj;
  };
  struct UpBlock {
    std::vector<ResidualBlock> resnets;
    Conv spatial;   // Conv after the 2x spatial upsampling; undefined for the last block.
    Conv temporal;  // Causal (3, 1, 1) conv producing the frame pairs; undefined if 2-D only.
  };
  class CausalState;

  VaeDecoder(const VaeConfig& config, std::map<std::string, at::Tensor> weights,
             const at::Device& device);

  // The decoder (after post_quant_conv) on one chunk of latent frames.
  at::Tensor DecodeChunk(const at::Tensor& x, CausalState& state) const;
  at::Tensor Residual(const ResidualBlock& block, const at::Tensor& x, CausalState& state) const;
  at::Tensor Attention(const AttentionBlock& block, const at::Tensor& x) const;
  at::Tensor Upsample(const UpBlock& block, const at::Tensor& x, CausalState& state) const;

  const VaeConfig config_;
  at::Device device_;
  c10::ScalarType dtype_;
  at::Tensor latents_mean_, latents_inv_std_;  // [1, z_dim, 1, 1, 1], decoder dtype.
  Conv post_quant_conv_, conv_in_, conv_out_;
  ResidualBlock mid_resnet0_, mid_resnet1_;
  AttentionBlock mid_attention_;
  std::vector<UpBlock> up_blocks_;
  at::Tensor norm_out_;
};

// The pipeline's output frames: video [B, C, F, H, W] in [-1, 1] -> uint8 [B, F, H, W, C] as
// round(255 * clamp(x / 2 + 0.5, 0, 1)) (diffusers' postprocess to "np", then to PIL), on the
// CPU.
at::Tensor ToUint8Frames(const at::Tensor& video);

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_VAE_DECODER_H_
