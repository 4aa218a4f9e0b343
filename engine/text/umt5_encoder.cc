#include "engine/text/umt5_encoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "c10/util/BFloat16.h"
#include "c10/util/Half.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::text {
namespace {

constexpr char kEmbedding[] = "shared.weight";
constexpr char kEncoderEmbedding[] = "encoder.embed_tokens.weight";

std::string ShapeOf(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ","), "]");
}

std::string LayerPrefix(int64_t layer) { return absl::StrCat("encoder.block.", layer, ".layer."); }

// transformers' NewGELUActivation, operation by operation (each rounds in the input's dtype).
at::Tensor GeluNew(const at::Tensor& x) {
  const double sqrt_2_over_pi = std::sqrt(2.0 / M_PI);
  return (x * 0.5) * ((((x + at::pow(x, 3.0) * 0.044715) * sqrt_2_over_pi).tanh()) + 1.0);
}

// torch.finfo(dtype).min: the additive mask of padded keys.
double Lowest(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}

// UMT5Block's clamp of float16 activations (a no-op for other dtypes).
at::Tensor ClampHalf(const at::Tensor& hidden) {
  if (hidden.scalar_type() != at::kHalf) return hidden;
  const double max = static_cast<double>(std::numeric_limits<c10::Half>::max());
  const double bound = at::isinf(hidden).any().item<bool>() ? max - 1000 : max;
  return at::clamp(hidden, -bound, bound);
}

}  // namespace

ParameterShapes Umt5Encoder::Parameters(const Umt5Config& config) {
  const int64_t d = config.d_model, inner = config.inner_dim();
  ParameterShapes shapes = {
      {kEmbedding, {config.vocab_size, d}},
      {"encoder.final_layer_norm.weight", {d}},
  };
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const std::string layer = LayerPrefix(i);
    shapes[layer + "0.layer_norm.weight"] = {d};
    for (const char* proj : {"q", "k", "v"}) {
      shapes[absl::StrCat(layer, "0.SelfAttention.", proj, ".weight")] = {inner, d};
    }
    shapes[layer + "0.SelfAttention.o.weight"] = {d, inner};
    shapes[layer + "0.SelfAttention.relative_attention_bias.weight"] = {
        config.relative_attention_num_buckets, config.num_heads};
    shapes[layer + "1.layer_norm.weight"] = {d};
    shapes[layer + "1.DenseReluDense.wi_0.weight"] = {config.d_ff, d};
    shapes[layer + "1.DenseReluDense.wi_1.weight"] = {config.d_ff, d};
    shapes[layer + "1.DenseReluDense.wo.weight"] = {d, config.d_ff};
  }
  return shapes;
}

std::vector<std::string> Umt5Encoder::KeepInFp32Modules(c10::ScalarType dtype) {
  if (dtype == at::kHalf) return {"wo"};
  return {};
}

absl::StatusOr<std::unique_ptr<Umt5Encoder>> Umt5Encoder::Create(
    const Umt5Config& config, std::map<std::string, at::Tensor> weights, const at::Device& device) {
  for (const auto& [name, shape] : Parameters(config)) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      return absl::InvalidArgumentError(absl::StrCat("text encoder weight \"", name, "\" missing"));
    }
    if (it->second.sizes().vec() != shape) {
      return absl::InvalidArgumentError(
          absl::StrCat("text encoder weight \"", name, "\" has shape ", ShapeOf(it->second),
                       ", expected [", absl::StrJoin(shape, ","), "]"));
    }
  }
  return std::unique_ptr<Umt5Encoder>(new Umt5Encoder(config, std::move(weights), device));
}

absl::StatusOr<std::unique_ptr<Umt5Encoder>> Umt5Encoder::Load(const std::string& dir,
                                                               c10::ScalarType dtype,
                                                               const at::Device& device) {
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf) {
    return absl::InvalidArgumentError(
        absl::StrCat("text encoder dtype ", c10::toString(dtype), " is not supported"));
  }
  VG_ASSIGN_OR_RETURN(const Umt5Config config, LoadUmt5Config(dir + "/config.json"));
  VG_ASSIGN_OR_RETURN(const auto checkpoint, Checkpoint::Open(dir, "model"));
  const std::vector<std::string> names = checkpoint->TensorNames();
  const bool has_encoder_embedding =
      std::binary_search(names.begin(), names.end(), std::string(kEncoderEmbedding));
  ParameterShapes expected = Parameters(config);
  LoadOptions options;
  options.dtype = dtype;
  options.keep_in_fp32_modules = KeepInFp32Modules(dtype);
  // What UMT5EncoderModel does not use from a full UMT5 checkpoint.
  options.ignore_unexpected = {"decoder", "lm_head"};
  if (has_encoder_embedding) {
    expected[kEncoderEmbedding] = expected.at(kEmbedding);
    expected.erase(kEmbedding);
    options.ignore_unexpected.push_back("shared");
  }
  VG_ASSIGN_OR_RETURN(auto weights, checkpoint->LoadStateDict(expected, options));
  if (has_encoder_embedding) {
    weights[kEmbedding] = std::move(weights.at(kEncoderEmbedding));
    weights.erase(kEncoderEmbedding);
  }
  return Create(config, std::move(weights), device);
}

Umt5Encoder::Umt5Encoder(const Umt5Config& config, std::map<std::string, at::Tensor> w,
                         const at::Device& device)
    : config_(config), device_(device) {
  auto take = [&](const std::string& name) { return w.at(name).to(device_); };
  embedding_ = take(kEmbedding);
  dtype_ = embedding_.scalar_type();
  device_ = embedding_.device();  // "cuda" becomes "cuda:0", as inputs report it.
  final_norm_ = take("encoder.final_layer_norm.weight");
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const std::string layer = LayerPrefix(i);
    const std::string attention = layer + "0.SelfAttention.";
    const std::string ff = layer + "1.DenseReluDense.";
    layers_.push_back(Layer{
        take(layer + "0.layer_norm.weight"), take(attention + "q.weight"),
        take(attention + "k.weight"), take(attention + "v.weight"), take(attention + "o.weight"),
        take(attention + "relative_attention_bias.weight"), take(layer + "1.layer_norm.weight"),
        take(ff + "wi_0.weight"), take(ff + "wi_1.weight"), take(ff + "wo.weight")});
  }
}

absl::Status Umt5Encoder::ValidateInputs(const at::Tensor& ids, const at::Tensor& mask) const {
  if (ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0 ||
      !at::isIntegralType(ids.scalar_type(), /*includeBool=*/false)) {
    return absl::InvalidArgumentError(absl::StrCat("ids ", ShapeOf(ids), " of ",
                                                   c10::toString(ids.scalar_type()),
                                                   " are not a non-empty integer [B, L]"));
  }
  if (mask.sizes() != ids.sizes() ||
      !at::isIntegralType(mask.scalar_type(), /*includeBool=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat("mask ", ShapeOf(mask), " of ",
                                                   c10::toString(mask.scalar_type()),
                                                   " is not an integer or bool ", ShapeOf(ids)));
  }
  for (const at::Tensor* t : {&ids, &mask}) {
    if (t->device() != device_) {
      return absl::InvalidArgumentError(
          absl::StrCat("input on ", t->device().str(), ", model on ", device_.str()));
    }
  }
  const int64_t low = ids.min().item<int64_t>(), high = ids.max().item<int64_t>();
  if (low < 0 || high >= config_.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("ids span [", low, ", ", high, "], outside [0, ", config_.vocab_size, ")"));
  }
  return absl::OkStatus();
}

at::Tensor Umt5Encoder::PositionBuckets(int64_t length) const {
  // Bidirectional T5 buckets of key - query: half the buckets per direction; within a direction
  // distances below max_exact are exact, larger ones logarithmic up to max_distance (float32 log,
  // truncated), as transformers computes them.
  const auto options = at::TensorOptions().dtype(at::kLong).device(device_);
  const at::Tensor positions = at::arange(length, options);
  const at::Tensor relative = positions.unsqueeze(0) - positions.unsqueeze(1);
  const int64_t num_buckets = config_.relative_attention_num_buckets / 2;
  const int64_t max_exact = num_buckets / 2;
  const at::Tensor distance = relative.abs();
  const at::Tensor log_ratio =
      at::log(distance.to(at::kFloat) / max_exact) /
      std::log(static_cast<double>(config_.relative_attention_max_distance) / max_exact) *
      (num_buckets - max_exact);
  const at::Tensor large = at::clamp_max(log_ratio.to(at::kLong) + max_exact, num_buckets - 1);
  return (relative > 0).to(at::kLong) * num_buckets +
         at::where(distance < max_exact, distance, large);
}

at::Tensor Umt5Encoder::RmsNorm(const at::Tensor& x, const at::Tensor& weight) const {
  const at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor normed = x * at::rsqrt(variance + config_.layer_norm_epsilon);
  if (weight.scalar_type() == at::kHalf || weight.scalar_type() == at::kBFloat16) {
    normed = normed.to(weight.scalar_type());
  }
  return weight * normed;
}

at::Tensor Umt5Encoder::Encode(const at::Tensor& ids, const at::Tensor& mask) const {
  const int64_t batch = ids.size(0), length = ids.size(1);
  const int64_t heads = config_.num_heads, head_dim = config_.d_kv;
  const at::Tensor buckets = PositionBuckets(length);
  // transformers passes no mask when nothing is padded, else a [B, 1, L, L] bool mask that the
  // SDPA integration folds into the position bias.
  const at::Tensor keep = mask != 0;
  const bool padded = !keep.all().item<bool>();
  const at::Tensor keep_keys =
      keep.view({batch, 1, 1, length}).expand({batch, 1, length, length}).contiguous();

  at::Tensor hidden = at::embedding(embedding_, ids);
  for (const Layer& layer : layers_) {
    const at::Tensor normed = RmsNorm(hidden, layer.attention_norm);
    const at::Tensor q =
        at::linear(normed, layer.q).view({batch, -1, heads, head_dim}).transpose(1, 2);
    const at::Tensor k =
        at::linear(normed, layer.k).view({batch, -1, heads, head_dim}).transpose(1, 2);
    const at::Tensor v =
        at::linear(normed, layer.v).view({batch, -1, heads, head_dim}).transpose(1, 2);
    const at::Tensor bias =
        at::embedding(layer.relative_bias, buckets).permute({2, 0, 1}).unsqueeze(0);
    const at::Tensor attention_mask =
        padded ? at::where(keep_keys, bias, Lowest(k.scalar_type())).contiguous()
               : bias.contiguous();
    const at::Tensor attended = at::scaled_dot_product_attention(
        q, k, v, attention_mask, /*dropout_p=*/0.0, /*is_causal=*/false, /*scale=*/1.0);
    const at::Tensor merged =
        attended.transpose(1, 2).contiguous().reshape({batch, length, -1}).contiguous();
    hidden = ClampHalf(hidden + at::linear(merged, layer.o));

    const at::Tensor ff_in = RmsNorm(hidden, layer.ff_norm);
    at::Tensor gated = GeluNew(at::linear(ff_in, layer.wi_0)) * at::linear(ff_in, layer.wi_1);
    if (gated.scalar_type() != layer.wo.scalar_type()) gated = gated.to(layer.wo.scalar_type());
    hidden = ClampHalf(hidden + at::linear(gated, layer.wo));
  }
  return RmsNorm(hidden, final_norm_);
}

at::Tensor Umt5Encoder::ZeroPadding(const at::Tensor& hidden, const at::Tensor& mask) {
  const at::Tensor lengths = (mask > 0).sum(1, /*keepdim=*/true);
  const at::Tensor rows = at::arange(hidden.size(1), lengths.options()).unsqueeze(0);
  return at::where((rows < lengths).unsqueeze(-1), hidden, at::zeros({}, hidden.options()));
}

at::Tensor Umt5Encoder::PromptEmbeds(const at::Tensor& ids, const at::Tensor& mask) const {
  return ZeroPadding(Encode(ids, mask), mask);
}

}  // namespace videogen::engine::text
