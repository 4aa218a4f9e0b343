// The umT5 text encoder of Wan2.1 (transformers UMT5EncoderModel) in LibTorch, numerically
// following transformers 5.x with its default (SDPA) attention, plus the text step of diffusers'
// WanPipeline that zeroes the rows past each prompt's length.
//
// Forward: x = embedding(ids); per layer x += o(Attention(RMSNorm(x))), x += FF(RMSNorm(x));
// last_hidden_state = RMSNorm(x). Specifics (all as transformers computes them):
// - T5 RMSNorm: variance of x in float32 (no mean subtraction, no bias), x * rsqrt(var + eps)
//   in float32, cast to the weight's dtype if that is fp16/bf16, times the weight.
// - Attention: bias-free q/k/v/o, no 1/sqrt(d_kv) scaling; every layer has its OWN relative
//   position bias table (unlike T5/mT5), bidirectional buckets; padded keys masked with the
//   dtype's lowest value; scaled_dot_product_attention(scale = 1).
// - FF: wo(gelu_new(wi_0(x)) * wi_1(x)) with gelu_new = transformers' NewGELUActivation,
//   0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))) evaluated op by op in the run dtype (so in bf16
//   every step rounds, unlike at::gelu(x, "tanh")).
// - dtypes: every weight in the run dtype. Only for float16 is `wo` kept in float32
//   (transformers' _keep_in_fp32_modules applies to fp16 alone); the FF input is then cast to
//   float32, the residual stream becomes float32 by type promotion, and fp16 activations are
//   clamped against inf after each sub-layer as transformers does. In bf16 the residual stream
//   stays bf16.
//
// Weights: transformers' names (Parameters()). The token embedding is tied in transformers
// (encoder.embed_tokens.weight = shared.weight): checkpoints store one or both. The encoder reads
// encoder.embed_tokens.weight, so Load() takes that tensor when it is stored (transformers then
// does not tie, even if shared.weight differs) and shared.weight otherwise; Create() expects it as
// "shared.weight". A full UMT5 checkpoint's decoder.* and lm_head.* tensors are ignored.
//
// Errors: Create()/Load() return absl::Status. Encode() and friends call LibTorch directly and may
// throw c10::Error; callers convert at their boundary (engine/common/torch_status.h).
// ValidateInputs() checks shapes, devices and id ranges up front.
//
// Thread-safe: all methods are const; weights are immutable after Create().
#ifndef VIDEOGEN_ENGINE_TEXT_UMT5_ENCODER_H_
#define VIDEOGEN_ENGINE_TEXT_UMT5_ENCODER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/umt5_config.h"
#include "engine/weights/checkpoint.h"

namespace videogen::engine::text {

class Umt5Encoder {
 public:
  // Parameter names and shapes (transformers' names; the embedding as "shared.weight").
  static ParameterShapes Parameters(const Umt5Config& config);
  // transformers' dtype plan: {"wo"} kept in float32 when loading in float16, else nothing.
  static std::vector<std::string> KeepInFp32Modules(c10::ScalarType dtype);

  // Takes `weights` (loaded with the dtype policy above) and moves them to `device`. The run dtype
  // is that of "shared.weight". INVALID_ARGUMENT if a tensor is missing or misshaped.
  static absl::StatusOr<std::unique_ptr<Umt5Encoder>> Create(
      const Umt5Config& config, std::map<std::string, at::Tensor> weights,
      const at::Device& device);

  // Loads `dir`/config.json and the weights in `dir` (a transformers folder: model.safetensors or
  // model.safetensors.index.json) cast to `dtype` (float32, bfloat16 or float16).
  static absl::StatusOr<std::unique_ptr<Umt5Encoder>> Load(const std::string& dir,
                                                           c10::ScalarType dtype,
                                                           const at::Device& device);

  const Umt5Config& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  const at::Device& device() const { return device_; }

  // INVALID_ARGUMENT naming the input whose shape, type, device or ids do not fit: `ids` [B, L]
  // integer in [0, vocab_size), `mask` [B, L] integer or bool, both on device(). Synchronises
  // with the device (reads the id range).
  absl::Status ValidateInputs(const at::Tensor& ids, const at::Tensor& mask) const;

  // last_hidden_state [B, L, d_model] in the run dtype. Padded positions get values too (as in
  // transformers); PromptEmbeds() zeroes them.
  at::Tensor Encode(const at::Tensor& ids, const at::Tensor& mask) const;

  // diffusers' step: keeps rows [0, n_b) of each hidden[b], n_b = number of mask[b] > 0, and
  // replaces the rest with zeros. Same dtype and device as `hidden`.
  static at::Tensor ZeroPadding(const at::Tensor& hidden, const at::Tensor& mask);

  // ZeroPadding(Encode(ids, mask), mask): the pipeline's prompt_embeds (before the cast to the
  // transformer's dtype).
  at::Tensor PromptEmbeds(const at::Tensor& ids, const at::Tensor& mask) const;

  // Bucket of each (query, key) pair for sequences of `length`, [length, length] int64 on device().
  at::Tensor PositionBuckets(int64_t length) const;

 private:
  struct Layer {
    at::Tensor attention_norm, q, k, v, o, relative_bias;
    at::Tensor ff_norm, wi_0, wi_1, wo;
  };

  Umt5Encoder(const Umt5Config& config, std::map<std::string, at::Tensor> weights,
              const at::Device& device);
  at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight) const;

  const Umt5Config config_;
  at::Device device_;  // With its index, as the weights report it.
  c10::ScalarType dtype_;
  at::Tensor embedding_, final_norm_;
  std::vector<Layer> layers_;
};

}  // namespace videogen::engine::text

#endif  // VIDEOGEN_ENGINE_TEXT_UMT5_ENCODER_H_
