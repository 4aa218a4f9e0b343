#include "engine/wan/vae_config.h"
#include "engine/common/file.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/json.h"
#include "engine/common/json_config_reader.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::wan {

std::vector<int64_t> VaeConfig::DecoderDims() const {
  std::vector<int64_t> dims = {decoder_base_dim * dim_mult.back()};
  for (auto it = dim_mult.rbegin(); it != dim_mult.rend(); ++it) {
    dims.push_back(decoder_base_dim * *it);
  }
  return dims;
}

bool VaeConfig::UpsamplesTime(int index) const {
  return temporal_downsample[temporal_downsample.size() - 1 - index];
}

int64_t VaeConfig::TemporalFactor() const {
  return int64_t{1} << std::count(temporal_downsample.begin(), temporal_downsample.end(), true);
}

int64_t VaeConfig::SpatialFactor() const { return int64_t{1} << (dim_mult.size() - 1); }

absl::StatusOr<VaeConfig> ParseVaeConfig(absl::string_view text, absl::string_view source) {
  absl::StatusOr<nlohmann::json> json = ParseStrictJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", json.status().message()));
  }
  if (!json->is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not an object"));
  static constexpr const char* kKnown[] = {"base_dim",
                                           "decoder_base_dim",
                                           "z_dim",
                                           "dim_mult",
                                           "num_res_blocks",
                                           "attn_scales",
                                           "temperal_downsample",
                                           "dropout",
                                           "latents_mean",
                                           "latents_std",
                                           "is_residual",
                                           "in_channels",
                                           "out_channels",
                                           "patch_size",
                                           "scale_factor_temporal",
                                           "scale_factor_spatial"};
  for (const auto& [key, value] : json->items()) {
    if (absl::StartsWith(key, "_")) continue;  // _class_name, _diffusers_version, ...
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unknown field \"", key, "\""));
    }
  }

  using Presence = JsonConfigReader::Presence;
  const JsonConfigReader reader(*json, source);
  VaeConfig config;
  int64_t base_dim = 96;
  VG_RETURN_IF_ERROR(reader.Int("base_dim", 1, 4096, &base_dim, Presence::kOptional));
  config.decoder_base_dim = base_dim;
  const auto decoder_base_dim = json->find("decoder_base_dim");
  if (decoder_base_dim != json->end() && !decoder_base_dim->is_null()) {
    VG_RETURN_IF_ERROR(reader.Int("decoder_base_dim", 1, 4096, &config.decoder_base_dim));
  }
  VG_RETURN_IF_ERROR(reader.Int("z_dim", 1, 1024, &config.z_dim, Presence::kOptional));
  VG_RETURN_IF_ERROR(reader.IntArray("dim_mult", 0, 1, 64, &config.dim_mult, Presence::kOptional));
  if (config.dim_mult.size() < 2 || config.dim_mult.size() > 8) {
    return reader.Error("dim_mult", "must have 2 to 8 entries");
  }
  for (size_t i = 1; i < config.dim_mult.size(); ++i) {
    // Each decoder stage after the first halves the previous stage's channels on entry.
    if ((config.decoder_base_dim * config.dim_mult[i]) % 2 != 0) {
      return reader.Error("dim_mult", "must give even channel counts");
    }
  }
  VG_RETURN_IF_ERROR(
      reader.Int("num_res_blocks", 0, 64, &config.num_res_blocks, Presence::kOptional));
  VG_RETURN_IF_ERROR(reader.BoolArray("temperal_downsample", config.dim_mult.size() - 1,
                                      &config.temporal_downsample, Presence::kOptional));
  if (config.temporal_downsample.size() != config.dim_mult.size() - 1) {
    return reader.Error("temperal_downsample",
                        absl::StrCat("must have ", config.dim_mult.size() - 1, " entries"));
  }
  VG_RETURN_IF_ERROR(reader.Int("out_channels", 1, 64, &config.out_channels, Presence::kOptional));
  VG_RETURN_IF_ERROR(
      reader.DoubleArray("latents_mean", config.z_dim, -1e6, 1e6, &config.latents_mean));
  VG_RETURN_IF_ERROR(
      reader.DoubleArray("latents_std", config.z_dim, 1e-12, 1e6, &config.latents_std));
  bool is_residual = false;
  VG_RETURN_IF_ERROR(reader.Bool("is_residual", &is_residual, Presence::kOptional));
  if (is_residual) {
    return absl::UnimplementedError(
        absl::StrCat(source, ": is_residual = true (the Wan2.2 VAE) is not supported"));
  }
  VG_RETURN_IF_ERROR(reader.AbsentOrNull("patch_size", "patchified Wan2.2 VAE"));
  int64_t temporal = config.TemporalFactor();
  int64_t spatial = config.SpatialFactor();
  VG_RETURN_IF_ERROR(
      reader.Int("scale_factor_temporal", temporal, temporal, &temporal, Presence::kOptional));
  VG_RETURN_IF_ERROR(
      reader.Int("scale_factor_spatial", spatial, spatial, &spatial, Presence::kOptional));
  return config;
}

absl::StatusOr<VaeConfig> LoadVaeConfig(const std::string& path) {
  VG_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseVaeConfig(text, path);
}

}  // namespace videogen::engine::wan
