#include "engine/wan/vae_decoder.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::wan {
namespace {

// Frames of context a causal temporal convolution carries between chunks (diffusers' CACHE_T).
constexpr int64_t kCausalContext = 2;

std::string ShapeOf(at::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// WanRMS_norm: L2-normalise over channels (float32 for half types), times sqrt(C) and the gain.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& gamma) {
  const bool upcast = x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16;
  const at::Tensor input = upcast ? x.to(at::kFloat) : x;
  const at::Tensor norm = at::linalg_vector_norm(input, 2, {1}, /*keepdim=*/true);
  const at::Tensor normalized =
      (input / norm.clamp_min(1e-12).expand_as(input)).to(x.scalar_type());
  return normalized * std::sqrt(static_cast<double>(x.size(1))) * gamma;
}

}  // namespace

// The causal convolutions' carried input frames, in the decoder's execution order (diffusers'
// feat_cache / feat_idx). Zeros before the first chunk are the causal padding.
class VaeDecoder::CausalState {
 public:
  // Starts the next chunk: the convolutions run again in the same order.
  void BeginChunk(bool first) {
    next_ = 0;
    first_ = first;
  }
  // True while decoding the chunk holding the first latent frame.
  bool first() const { return first_; }

  // Causal convolution of x [B, C, T, H, W]: spatial zero padding by half the kernel; in time,
  // the previous two input frames (zeros at the start) are prepended and then replaced by the
  // last two frames of this input.
  at::Tensor Conv(const VaeDecoder::Conv& conv, const at::Tensor& x) {
    const std::array<int64_t, 3> padding = {0, conv.weight.size(3) / 2, conv.weight.size(4) / 2};
    if (conv.weight.size(2) == 1) return at::conv3d(x, conv.weight, conv.bias, 1, padding);
    if (next_ == carried_.size()) {
      carried_.push_back(
          at::zeros({x.size(0), x.size(1), kCausalContext, x.size(3), x.size(4)}, x.options()));
    }
    // Every temporal conv owns its slot even in a chunk that gives it no frames (the first
    // chunk's temporal upsampling of a single frame), so the slots stay aligned.
    at::Tensor& carried = carried_[next_++];
    if (x.size(2) == 0) {
      return at::empty({x.size(0), conv.weight.size(0), 0, x.size(3), x.size(4)}, x.options());
    }
    const at::Tensor input = at::cat({carried, x}, 2);
    // A copy, so the chunk's activations are not kept alive by the carried frames.
    carried = input.narrow(2, input.size(2) - kCausalContext, kCausalContext).clone();
    return at::conv3d(input, conv.weight, conv.bias, 1, padding);
  }

 private:
  std::vector<at::Tensor> carried_;
  size_t next_ = 0;
  bool first_ = true;
};

ParameterShapes VaeDecoder::Parameters(const VaeConfig& config) {
  ParameterShapes shapes;
  auto conv = [&](const std::string& name, int64_t out, int64_t in, std::vector<int64_t> kernel) {
    std::vector<int64_t> shape = {out, in};
    shape.insert(shape.end(), kernel.begin(), kernel.end());
    shapes[name + ".weight"] = shape;
    shapes[name + ".bias"] = {out};
  };
  auto residual = [&](const std::string& name, int64_t in, int64_t out) {
    shapes[name + ".norm1.gamma"] = {in, 1, 1, 1};
    conv(name + ".conv1", out, in, {3, 3, 3});
    shapes[name + ".norm2.gamma"] = {out, 1, 1, 1};
    conv(name + ".conv2", out, out, {3, 3, 3});
    if (in != out) conv(name + ".conv_shortcut", out, in, {1, 1, 1});
  };
  const std::vector<int64_t> dims = config.DecoderDims();
  conv("post_quant_conv", config.z_dim, config.z_dim, {1, 1, 1});
  conv("decoder.conv_in", dims[0], config.z_dim, {3, 3, 3});
  residual("decoder.mid_block.resnets.0", dims[0], dims[0]);
  shapes["decoder.mid_block.attentions.0.norm.gamma"] = {dims[0], 1, 1};
  conv("decoder.mid_block.attentions.0.to_qkv", 3 * dims[0], dims[0], {1, 1});
  conv("decoder.mid_block.attentions.0.proj", dims[0], dims[0], {1, 1});
  residual("decoder.mid_block.resnets.1", dims[0], dims[0]);
  const int num_up_blocks = static_cast<int>(config.dim_mult.size());
  for (int i = 0; i < num_up_blocks; ++i) {
    const std::string block = absl::StrCat("decoder.up_blocks.", i);
    const int64_t out = dims[i + 1];
    int64_t in = i == 0 ? dims[0] : dims[i] / 2;  // The previous upsampling halved the channels.
    for (int64_t r = 0; r <= config.num_res_blocks; ++r, in = out) {
      residual(absl::StrCat(block, ".resnets.", r), in, out);
    }
    if (i == num_up_blocks - 1) continue;
    conv(block + ".upsamplers.0.resample.1", out / 2, out, {3, 3});
    if (config.UpsamplesTime(i)) conv(block + ".upsamplers.0.time_conv", 2 * out, out, {3, 1, 1});
  }
  shapes["decoder.norm_out.gamma"] = {dims.back(), 1, 1, 1};
  conv("decoder.conv_out", config.out_channels, dims.back(), {3, 3, 3});
  return shapes;
}

absl::StatusOr<std::unique_ptr<VaeDecoder>> VaeDecoder::Create(
    const VaeConfig& config, std::map<std::string, at::Tensor> weights, const at::Device& device) {
  for (const auto& [name, shape] : Parameters(config)) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      return absl::InvalidArgumentError(absl::StrCat("VAE weight \"", name, "\" missing"));
    }
    if (it->second.sizes().vec() != shape) {
      return absl::InvalidArgumentError(absl::StrCat("VAE weight \"", name, "\" has shape ",
                                                     ShapeOf(it->second.sizes()), ", expected ",
                                                     ShapeOf(shape)));
    }
  }
  return std::unique_ptr<VaeDecoder>(new VaeDecoder(config, std::move(weights), device));
}

absl::StatusOr<std::unique_ptr<VaeDecoder>> VaeDecoder::Load(const std::string& dir,
                                                             c10::ScalarType dtype,
                                                             const at::Device& device) {
  VG_ASSIGN_OR_RETURN(const VaeConfig config, LoadVaeConfig(dir + "/config.json"));
  VG_ASSIGN_OR_RETURN(const auto checkpoint, Checkpoint::Open(dir, "diffusion_pytorch_model"));
  LoadOptions load;
  load.dtype = dtype;
  load.ignore_unexpected = {"encoder", "quant_conv"};  // Only the decoder is loaded.
  VG_ASSIGN_OR_RETURN(auto weights, checkpoint->LoadStateDict(Parameters(config), load));
  return Create(config, std::move(weights), device);
}

VaeDecoder::VaeDecoder(const VaeConfig& config, std::map<std::string, at::Tensor> w,
                       const at::Device& device)
    : config_(config), device_(device) {
  auto take = [&](const std::string& name) { return w.at(name).to(device_); };
  // 2-D kernels run as 3-D ones with a temporal extent of 1, on all frames at once.
  auto conv = [&](const std::string& name) {
    at::Tensor weight = take(name + ".weight");
    if (weight.dim() == 4) weight = weight.unsqueeze(2);
    return Conv{weight, take(name + ".bias")};
  };
  auto residual = [&](const std::string& name) {
    ResidualBlock block{take(name + ".norm1.gamma"), take(name + ".norm2.gamma"),
                        conv(name + ".conv1"), conv(name + ".conv2")};
    if (w.count(name + ".conv_shortcut.weight") > 0) block.shortcut = conv(name + ".conv_shortcut");
    return block;
  };
  post_quant_conv_ = conv("post_quant_conv");
  dtype_ = post_quant_conv_.weight.scalar_type();
  device_ = post_quant_conv_.weight.device();  // "cuda" becomes "cuda:0".
  const auto options = at::TensorOptions().dtype(dtype_).device(device_);
  latents_mean_ = at::tensor(config_.latents_mean, at::kDouble).to(options).view({1, -1, 1, 1, 1});
  latents_inv_std_ =
      1.0 / at::tensor(config_.latents_std, at::kDouble).to(options).view({1, -1, 1, 1, 1});
  conv_in_ = conv("decoder.conv_in");
  mid_resnet0_ = residual("decoder.mid_block.resnets.0");
  mid_attention_ = AttentionBlock{take("decoder.mid_block.attentions.0.norm.gamma"),
                                  conv("decoder.mid_block.attentions.0.to_qkv"),
                                  conv("decoder.mid_block.attentions.0.proj")};
  mid_resnet1_ = residual("decoder.mid_block.resnets.1");
  const int num_up_blocks = static_cast<int>(config_.dim_mult.size());
  for (int i = 0; i < num_up_blocks; ++i) {
    const std::string block = absl::StrCat("decoder.up_blocks.", i);
    UpBlock up;
    for (int64_t r = 0; r <= config_.num_res_blocks; ++r) {
      up.resnets.push_back(residual(absl::StrCat(block, ".resnets.", r)));
    }
    if (i < num_up_blocks - 1) {
      up.spatial = conv(block + ".upsamplers.0.resample.1");
      if (config_.UpsamplesTime(i)) up.temporal = conv(block + ".upsamplers.0.time_conv");
    }
    up_blocks_.push_back(std::move(up));
  }
  norm_out_ = take("decoder.norm_out.gamma");
  conv_out_ = conv("decoder.conv_out");
}

absl::Status VaeDecoder::Validate(const at::Tensor& latents,
                                  const VaeDecodeOptions& options) const {
  if (!latents.defined() || latents.dim() != 5 || latents.size(1) != config_.z_dim ||
      latents.size(0) < 1 || latents.size(2) < 1 || latents.size(3) < 1 || latents.size(4) < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("VAE latents must be [B, ", config_.z_dim, ", T, h, w], got ",
                     latents.defined() ? ShapeOf(latents.sizes()) : "undefined"));
  }
  if (!at::isFloatingType(latents.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat("VAE latents must be floating point, got ",
                                                   c10::toString(latents.scalar_type())));
  }
  if (latents.device() != device_) {
    return absl::InvalidArgumentError(absl::StrCat("VAE latents are on ", latents.device().str(),
                                                   ", the decoder on ", device_.str()));
  }
  if (options.latent_frames_per_chunk < 0) {
    return absl::InvalidArgumentError(absl::StrCat("latent_frames_per_chunk must be >= 0, got ",
                                                   options.latent_frames_per_chunk));
  }
  return absl::OkStatus();
}

at::Tensor VaeDecoder::Decode(const at::Tensor& latents, const VaeDecodeOptions& options) const {
  // As WanPipeline: division by the reciprocal of the std, in the VAE's dtype.
  const at::Tensor z = latents.to(dtype_) / latents_inv_std_ + latents_mean_;
  const at::Tensor x = at::conv3d(z, post_quant_conv_.weight, post_quant_conv_.bias);
  const int64_t frames = x.size(2);
  const int64_t chunk =
      options.latent_frames_per_chunk == 0 ? frames : options.latent_frames_per_chunk;
  CausalState state;
  std::vector<at::Tensor> outputs;
  for (int64_t start = 0; start < frames; start += chunk) {
    state.BeginChunk(start == 0);
    outputs.push_back(DecodeChunk(x.narrow(2, start, std::min(chunk, frames - start)), state));
  }
  return at::cat(outputs, 2).clamp_(-1.0, 1.0);
}

at::Tensor VaeDecoder::DecodeChunk(const at::Tensor& input, CausalState& state) const {
  at::Tensor x = state.Conv(conv_in_, input);
  x = Residual(mid_resnet0_, x, state);
  x = Attention(mid_attention_, x);
  x = Residual(mid_resnet1_, x, state);
  for (const UpBlock& block : up_blocks_) {
    for (const ResidualBlock& resnet : block.resnets) x = Residual(resnet, x, state);
    if (block.spatial.weight.defined()) x = Upsample(block, x, state);
  }
  return state.Conv(conv_out_, at::silu(RmsNorm(x, norm_out_)));
}

at::Tensor VaeDecoder::Residual(const ResidualBlock& block, const at::Tensor& x,
                                CausalState& state) const {
  const at::Tensor shortcut = block.shortcut.weight.defined() ? state.Conv(block.shortcut, x) : x;
  at::Tensor h = state.Conv(block.conv1, at::silu(RmsNorm(x, block.norm1)));
  h = state.Conv(block.conv2, at::silu(RmsNorm(h, block.norm2)));
  return h + shortcut;
}

at::Tensor VaeDecoder::Attention(const AttentionBlock& block, const at::Tensor& x) const {
  // Single-head attention among the pixels of each frame, as diffusers lays it out.
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  const at::Tensor frames = x.permute({0, 2, 1, 3, 4}).reshape({b * t, c, h, w});
  const at::Tensor qkv =
      at::conv2d(RmsNorm(frames, block.norm), block.to_qkv.weight.squeeze(2), block.to_qkv.bias)
          .reshape({b * t, 1, 3 * c, h * w})
          .permute({0, 1, 3, 2})
          .contiguous();
  const std::vector<at::Tensor> q_k_v = qkv.chunk(3, -1);
  const at::Tensor attended = at::scaled_dot_product_attention(q_k_v[0], q_k_v[1], q_k_v[2])
                                  .squeeze(1)
                                  .permute({0, 2, 1})
                                  .reshape({b * t, c, h, w});
  const at::Tensor projected = at::conv2d(attended, block.proj.weight.squeeze(2), block.proj.bias);
  return projected.view({b, t, c, h, w}).permute({0, 2, 1, 3, 4}) + x;
}

at::Tensor VaeDecoder::Upsample(const UpBlock& block, const at::Tensor& x,
                                CausalState& state) const {
  at::Tensor frames = x;
  if (block.temporal.weight.defined()) {
    // The causal conv makes each frame a pair: output channels [0, C) are the first frame of
    // the pair, [C, 2C) the second. The video's first frame stays single and is not part of
    // the sequence the conv sees.
    const bool keep_first = state.first();
    const at::Tensor rest = keep_first ? x.narrow(2, 1, x.size(2) - 1) : x;
    const int64_t b = x.size(0), c = x.size(1), t = rest.size(2);
    const at::Tensor pairs = state.Conv(block.temporal, rest)
                                 .view({b, 2, c, t, x.size(3), x.size(4)})
                                 .permute({0, 2, 3, 1, 4, 5})
                                 .reshape({b, c, 2 * t, x.size(3), x.size(4)});
    frames = keep_first ? at::cat({x.narrow(2, 0, 1), pairs}, 2) : pairs;
  }
  // Nearest 2x in space (diffusers' "nearest-exact", identical at factor 2), in float32.
  const at::Tensor upsampled =
      at::_upsample_nearest_exact3d(frames.to(at::kFloat),
                                    {frames.size(2), 2 * frames.size(3), 2 * frames.size(4)})
          .to(frames.scalar_type());
  return at::conv3d(upsampled, block.spatial.weight, block.spatial.bias, 1, {0, 1, 1});
}

at::Tensor ToUint8Frames(const at::Tensor& video) {
  const at::Tensor unit = (video.to(at::kFloat) * 0.5 + 0.5).clamp(0.0, 1.0);
  return (unit * 255.0).round().to(at::kByte).permute({0, 2, 3, 4, 1}).contiguous().cpu();
}

}  // namespace videogen::engine::wan
