// Architecture of an AutoencoderKLWan (the Wan2.1 video VAE), read from the `vae/config.json` of
// a diffusers-format checkpoint. Only what the decoder needs is kept; the encoder's fields are
// accepted and ignored.
#ifndef VIDEOGEN_ENGINE_WAN_VAE_CONFIG_H_
#define VIDEOGEN_ENGINE_WAN_VAE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::wan {

struct VaeConfig {
  int64_t decoder_base_dim = 96;  // diffusers' decoder_base_dim, or base_dim when null.
  int64_t z_dim = 16;             // Latent channels.
  std::vector<int64_t> dim_mult = {1, 2, 4, 4};
  int64_t num_res_blocks = 2;
  // Per encoder stage; the decoder upsamples in time where the reversed list is true.
  std::vector<bool> temporal_downsample = {false, true, true};
  int64_t out_channels = 3;
  // Per latent channel: the pipeline decodes z * std + mean.
  std::vector<double> latents_mean, latents_std;

  // Channels entering each decoder stage: [dim_mult.back(), reversed dim_mult...] * base dim.
  std::vector<int64_t> DecoderDims() const;
  // Whether decoder up block `index` (< dim_mult.size() - 1) doubles the frames.
  bool UpsamplesTime(int index) const;
  // Video frames per latent frame after the first (4 for Wan2.1), and pixels per latent pixel (8).
  int64_t TemporalFactor() const;
  int64_t SpatialFactor() const;
};

// Parses config.json text. INVALID_ARGUMENT naming the field for a missing, ill-typed,
// out-of-range or inconsistent value (e.g. latents_mean's length differs from z_dim, or
// scale_factor_* contradicts the structure); UNIMPLEMENTED for the Wan2.2 VAE (is_residual,
// patch_size). `source` names the file.
absl::StatusOr<VaeConfig> ParseVaeConfig(absl::string_view json, absl::string_view source);

// Reads and parses `path`; NOT_FOUND if unreadable.
absl::StatusOr<VaeConfig> LoadVaeConfig(const std::string& path);

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_VAE_CONFIG_H_
