#include "engine/wan/transformer.h"

#include <cmath>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/wan/block_ops.h"

namespace videogen::engine::wan {
namespace {

std::string ShapeOf(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ","), "]");
}

// Rotary angles for one axis of `dim` head dimensions at positions 0..max_positions-1, as diffusers
// computes them: in float64, each frequency repeated for the two elements of a rotation pair,
// then rounded to float32.
std::pair<at::Tensor, at::Tensor> AxisRope(int64_t dim, int64_t max_positions) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor exponents =
      at::arange(0, dim, 2, f64).slice(0, 0, dim / 2) / static_cast<double>(dim);
  const at::Tensor freqs = at::pow(10000.0, exponents).reciprocal();
  const at::Tensor angles = at::outer(at::arange(max_positions, at::kLong), freqs);
  return {angles.cos().repeat_interleave(2, 1).to(at::kFloat),
          angles.sin().repeat_interleave(2, 1).to(at::kFloat)};
}

at::Tensor GeluTanh(const at::Tensor& x) { return at::gelu(x, "tanh"); }

// A branch's output: `compute` of all rows of `x` if nothing is cached, else the cached output
// with the rows `fresh` (if any) recomputed.
template <typename Compute>
at::Tensor BranchOutput(const at::Tensor* cached, const at::Tensor& fresh, const at::Tensor& x,
                        const Compute& compute) {
  if (cached == nullptr || !cached->defined()) return compute(x);
  if (!fresh.defined()) return *cached;
  return cached->index_copy(1, fresh, compute(x.index_select(1, fresh)));
}

}  // namespace

at::Tensor Transformer::Linear::operator()(const at::Tensor& x) const {
  return at::linear(x, weight, bias);
}

ParameterShapes Transformer::Parameters(const TransformerConfig& config) {
  const int64_t d = config.dim();
  const int64_t patch_out = config.patch_t * config.patch_h * config.patch_w * config.out_channels;
  ParameterShapes shapes = {
      {"patch_embedding.weight",
       {d, config.in_channels, config.patch_t, config.patch_h, config.patch_w}},
      {"patch_embedding.bias", {d}},
      {"condition_embedder.time_embedder.linear_1.weight", {d, config.freq_dim}},
      {"condition_embedder.time_embedder.linear_1.bias", {d}},
      {"condition_embedder.time_embedder.linear_2.weight", {d, d}},
      {"condition_embedder.time_embedder.linear_2.bias", {d}},
      {"condition_embedder.time_proj.weight", {6 * d, d}},
      {"condition_embedder.time_proj.bias", {6 * d}},
      {"condition_embedder.text_embedder.linear_1.weight", {d, config.text_dim}},
      {"condition_embedder.text_embedder.linear_1.bias", {d}},
      {"condition_embedder.text_embedder.linear_2.weight", {d, d}},
      {"condition_embedder.text_embedder.linear_2.bias", {d}},
      {"scale_shift_table", {1, 2, d}},
      {"proj_out.weight", {patch_out, d}},
      {"proj_out.bias", {patch_out}},
  };
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const std::string block = absl::StrCat("blocks.", i, ".");
    shapes[block + "scale_shift_table"] = {1, 6, d};
    for (const char* attn : {"attn1.", "attn2."}) {
      for (const char* proj : {"to_q.", "to_k.", "to_v.", "to_out.0."}) {
        shapes[absl::StrCat(block, attn, proj, "weight")] = {d, d};
        shapes[absl::StrCat(block, attn, proj, "bias")] = {d};
      }
      shapes[absl::StrCat(block, attn, "norm_q.weight")] = {d};
      shapes[absl::StrCat(block, attn, "norm_k.weight")] = {d};
    }
    if (config.cross_attn_norm) {
      shapes[block + "norm2.weight"] = {d};
      shapes[block + "norm2.bias"] = {d};
    }
    shapes[block + "ffn.net.0.proj.weight"] = {config.ffn_dim, d};
    shapes[block + "ffn.net.0.proj.bias"] = {config.ffn_dim};
    shapes[block + "ffn.net.2.weight"] = {d, config.ffn_dim};
    shapes[block + "ffn.net.2.bias"] = {d};
  }
  return shapes;
}

const std::vector<std::string>& Transformer::KeepInFp32Modules() {
  static const auto* modules = new std::vector<std::string>{
      "rope", "time_embedder", "scale_shift_table", "norm1", "norm2", "norm3"};
  return *modules;
}

absl::StatusOr<std::unique_ptr<Transformer>> Transformer::Create(
    const TransformerConfig& config, std::map<std::string, at::Tensor> weights,
    const at::Device& device, const TransformerOptions& options) {
  for (const auto& [name, shape] : Parameters(config)) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      return absl::InvalidArgumentError(absl::StrCat("transformer weight \"", name, "\" missing"));
    }
    if (it->second.sizes().vec() != shape) {
      return absl::InvalidArgumentError(absl::StrCat("transformer weight \"", name, "\" has shape ",
                                                     ShapeOf(it->second), ", expected [",
                                                     absl::StrJoin(shape, ","), "]"));
    }
  }
  return std::unique_ptr<Transformer>(new Transformer(config, std::move(weights), device, options));
}

absl::StatusOr<std::unique_ptr<Transformer>> Transformer::Load(const std::string& dir,
                                                               c10::ScalarType dtype,
                                                               const at::Device& device,
                                                               const TransformerOptions& options) {
  VG_ASSIGN_OR_RETURN(const TransformerConfig config, LoadTransformerConfig(dir + "/config.json"));
  VG_ASSIGN_OR_RETURN(const auto checkpoint, Checkpoint::Open(dir, "diffusion_pytorch_model"));
  LoadOptions load;
  load.dtype = dtype;
  load.keep_in_fp32_modules = KeepInFp32Modules();
  load.ignore_unexpected = {"norm_added_q"};  // diffusers' _keys_to_ignore_on_load_unexpected.
  VG_ASSIGN_OR_RETURN(auto weights, checkpoint->LoadStateDict(Parameters(config), load));
  return Create(config, std::move(weights), device, options);
}

Transformer::Transformer(const TransformerConfig& config, std::map<std::string, at::Tensor> w,
                         const at::Device& device, const TransformerOptions& options)
    : config_(config), options_(options), device_(device) {
  auto take = [&](const std::string& name) { return w.at(name).to(device_); };
  auto linear = [&](const std::string& prefix) {
    return Linear{take(prefix + ".weight"), take(prefix + ".bias")};
  };
  patch_weight_ = take("patch_embedding.weight");
  patch_bias_ = take("patch_embedding.bias");
  dtype_ = patch_weight_.scalar_type();
  device_ = patch_weight_.device();  // "cuda" becomes "cuda:0".
  time_1_ = linear("condition_embedder.time_embedder.linear_1");
  time_2_ = linear("condition_embedder.time_embedder.linear_2");
  time_proj_ = linear("condition_embedder.time_proj");
  text_1_ = linear("condition_embedder.text_embedder.linear_1");
  text_2_ = linear("condition_embedder.text_embedder.linear_2");
  proj_out_ = linear("proj_out");
  head_scale_shift_table_ = take("scale_shift_table");
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const std::string block = absl::StrCat("blocks.", i, ".");
    auto attention = [&](const std::string& attn) {
      return Attention{
          linear(block + attn + ".to_q"),        linear(block + attn + ".to_k"),
          linear(block + attn + ".to_v"),        linear(block + attn + ".to_out.0"),
          take(block + attn + ".norm_q.weight"), take(block + attn + ".norm_k.weight")};
    };
    BlockWeights weights{
        take(block + "scale_shift_table"), attention("attn1"),         attention("attn2"), {}, {},
        linear(block + "ffn.net.0.proj"),  linear(block + "ffn.net.2")};
    if (config_.cross_attn_norm) {
      weights.norm2_weight = take(block + "norm2.weight");
      weights.norm2_bias = take(block + "norm2.bias");
    }
    if (device_.is_cuda()) {
      // One GEMM per shared input; the CPU path keeps diffusers' separate GEMMs (bit-exact).
      const int64_t d = config_.dim();
      auto rows = [](const Linear& fused, int64_t start, int64_t count) {
        return Linear{fused.weight.narrow(0, start, count), fused.bias.narrow(0, start, count)};
      };
      Attention& self = weights.self_attn;
      self.qkv = {at::cat({self.q.weight, self.k.weight, self.v.weight}),
                  at::cat({self.q.bias, self.k.bias, self.v.bias})};
      self.q = rows(self.qkv, 0, d);
      self.k = rows(self.qkv, d, d);
      self.v = rows(self.qkv, 2 * d, d);
      self.kv = rows(self.qkv, d, 2 * d);  // Keys and values of all tokens in sparse blocks.
      Attention& cross = weights.cross_attn;
      cross.kv = {at::cat({cross.k.weight, cross.v.weight}), at::cat({cross.k.bias, cross.v.bias})};
      cross.k = rows(cross.kv, 0, d);
      cross.v = rows(cross.kv, d, d);
    }
    blocks_.push_back(std::move(weights));
  }
  const auto [t_cos, t_sin] = AxisRope(config_.rope_t_dim(), config_.rope_max_seq_len);
  const auto [h_cos, h_sin] = AxisRope(config_.rope_h_dim(), config_.rope_max_seq_len);
  const auto [w_cos, w_sin] = AxisRope(config_.rope_w_dim(), config_.rope_max_seq_len);
  rope_cos_ = at::cat({t_cos, h_cos, w_cos}, 1).to(device_);
  rope_sin_ = at::cat({t_sin, h_sin, w_sin}, 1).to(device_);
}

absl::Status Transformer::ValidateInputs(const at::Tensor& latents, const at::Tensor& timestep,
                                         const at::Tensor& text) const {
  VG_RETURN_IF_ERROR(ValidateLatents(latents, timestep));
  if (text.dim() != 3 || text.size(0) != latents.size(0) || text.size(2) != config_.text_dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text ", ShapeOf(text), " is not [", latents.size(0), ", L, ", config_.text_dim, "]"));
  }
  if (text.device() != device_) {
    return absl::InvalidArgumentError(
        absl::StrCat("text on ", text.device().str(), ", model on ", device_.str()));
  }
  return absl::OkStatus();
}

absl::Status Transformer::ValidateInputs(const at::Tensor& latents, const at::Tensor& timestep,
                                         const TextContext& text) const {
  VG_RETURN_IF_ERROR(ValidateLatents(latents, timestep));
  const at::Tensor& projected = text.projected;
  if (!projected.defined() || projected.dim() != 3 || projected.size(0) != latents.size(0) ||
      projected.size(2) != config_.dim() ||
      text.keys.size() != static_cast<size_t>(config_.num_layers) ||
      text.values.size() != text.keys.size() || projected.device() != device_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the text context is not this model's for a batch of ", latents.size(0),
                     " on ", device_.str()));
  }
  return absl::OkStatus();
}

absl::Status Transformer::ValidateLatents(const at::Tensor& latents,
                                          const at::Tensor& timestep) const {
  if (latents.dim() != 5 || latents.size(1) != config_.in_channels) {
    return absl::InvalidArgumentError(absl::StrCat("latents ", ShapeOf(latents), " are not [B, ",
                                                   config_.in_channels, ", F, H, W]"));
  }
  const int64_t patch[] = {config_.patch_t, config_.patch_h, config_.patch_w};
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t size = latents.size(2 + axis);
    if (size == 0 || size % patch[axis] != 0 || size / patch[axis] > config_.rope_max_seq_len) {
      return absl::InvalidArgumentError(absl::StrCat("latents ", ShapeOf(latents), ": dimension ",
                                                     2 + axis, " must be a positive multiple of ",
                                                     patch[axis], " and at most ",
                                                     patch[axis] * config_.rope_max_seq_len));
    }
  }
  const int64_t batch = latents.size(0);
  if (timestep.dim() != 1 || timestep.size(0) != batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestep ", ShapeOf(timestep), " is not [", batch, "]"));
  }
  for (const at::Tensor* t : {&latents, &timestep}) {
    if (t->device() != device_) {
      return absl::InvalidArgumentError(
          absl::StrCat("input on ", t->device().str(), ", model on ", device_.str()));
    }
  }
  return absl::OkStatus();
}

Transformer::Tokens Transformer::Embed(const at::Tensor& latents,
                                       const SequenceParallel* sequence) const {
  Tokens tokens{GridOf(latents), {}, PatchEmbed(latents)};
  tokens.rope = RotaryEmbedding(tokens.grid);
  if (sequence != nullptr) {
    const SequenceShard shard = sequence->shard();
    TORCH_CHECK(shard.tokens == tokens.grid.tokens(), "the sequence-parallel context is for ",
                shard.tokens, " tokens, the latents have ", tokens.grid.tokens());
    tokens.hidden = TakeShard(tokens.hidden, shard);
    tokens.rope = {TakeShard(tokens.rope.cos, shard), TakeShard(tokens.rope.sin, shard)};
  }
  return tokens;
}

Transformer::Grid Transformer::GridOf(const at::Tensor& latents) const {
  return {latents.size(2) / config_.patch_t, latents.size(3) / config_.patch_h,
          latents.size(4) / config_.patch_w};
}

at::Tensor Transformer::PatchEmbed(const at::Tensor& latents) const {
  const at::Tensor embedded = at::conv3d(latents.to(dtype_), patch_weight_, patch_bias_,
                                         {config_.patch_t, config_.patch_h, config_.patch_w});
  return embedded.flatten(2).transpose(1, 2).contiguous();
}

Transformer::Rope Transformer::RotaryEmbedding(const Grid& grid) const {
  const int64_t dims[] = {config_.rope_t_dim(), config_.rope_h_dim(), config_.rope_w_dim()};
  const int64_t sizes[] = {grid.frames, grid.rows, grid.cols};
  auto table = [&](const at::Tensor& full) {
    std::vector<at::Tensor> axes;
    int64_t offset = 0;
    for (int axis = 0; axis < 3; ++axis) {
      std::vector<int64_t> view = {1, 1, 1, dims[axis]};
      view[axis] = sizes[axis];
      axes.push_back(full.slice(1, offset, offset + dims[axis])
                         .slice(0, 0, sizes[axis])
                         .view(view)
                         .expand({grid.frames, grid.rows, grid.cols, dims[axis]}));
      offset += dims[axis];
    }
    return at::cat(axes, -1).reshape({1, grid.tokens(), 1, config_.head_dim});
  };
  return {table(rope_cos_), table(rope_sin_)};
}

Transformer::TextContext Transformer::EncodeText(const at::Tensor& text) const {
  TextContext context;
  context.projected = text_2_(GeluTanh(text_1_(text.to(dtype_))));
  for (const BlockWeights& w : blocks_) {
    const Attention& attention = w.cross_attn;
    at::Tensor keys, values;
    if (attention.kv.weight.defined()) {
      const auto kv = attention.kv(context.projected).chunk(2, -1);
      keys = kv[0];
      values = kv[1];
    } else {
      keys = attention.k(context.projected);
      values = attention.v(context.projected);
    }
    context.keys.push_back(NormHeads(keys, attention.norm_k, nullptr));
    context.values.push_back(values.unflatten(2, {config_.num_heads, config_.head_dim}));
  }
  return context;
}

Transformer::Conditioning Transformer::Condition(const at::Tensor& timestep,
                                                 const at::Tensor& text) const {
  return Condition(timestep, EncodeText(text));
}

Transformer::Conditioning Transformer::Condition(const at::Tensor& timestep,
                                                 TextContext text) const {
  // Sinusoid of the timestep, [cos | sin], in float32 with diffusers' order of operations.
  const int64_t half = config_.freq_dim / 2;
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device_);
  const at::Tensor exponent = at::arange(0, half, f32) * (-std::log(10000.0)) / half;
  const at::Tensor angles = timestep.to(at::kFloat).unsqueeze(1) * exponent.exp().unsqueeze(0);
  const at::Tensor sinusoid = at::cat({angles.cos(), angles.sin()}, -1);

  const at::Tensor temb_full =
      time_2_(at::silu(time_1_(sinusoid.to(time_1_.weight.scalar_type()))));
  Conditioning conditioning;
  conditioning.temb = temb_full.to(dtype_);
  conditioning.modulation =
      time_proj_(at::silu(conditioning.temb)).unflatten(1, {6, config_.dim()});
  conditioning.text = std::move(text);
  return conditioning;
}

at::Tensor Transformer::SelfAttend(const Attention& attention, const at::Tensor& x,
                                   const at::Tensor& selected, const Rope& rope, at::Tensor* lse,
                                   const SequenceParallel* sequence) const {
  at::Tensor q, k, v;
  const Rope* q_rope = &rope;
  Rope selected_rope;
  if (!selected.defined() && attention.qkv.weight.defined()) {
    const auto qkv = attention.qkv(x).chunk(3, -1);
    q = qkv[0];
    k = qkv[1];
    v = qkv[2];
  } else {
    if (selected.defined()) {
      selected_rope = {rope.cos.index_select(1, selected), rope.sin.index_select(1, selected)};
      q_rope = &selected_rope;
    }
    q = attention.q(selected.defined() ? x.index_select(1, selected) : x);
    if (attention.kv.weight.defined()) {
      const auto kv = attention.kv(x).chunk(2, -1);
      k = kv[0];
      v = kv[1];
    } else {
      k = attention.k(x);
      v = attention.v(x);
    }
  }
  return AttendHeads(attention, NormHeads(q, attention.norm_q, q_rope),
                     NormHeads(k, attention.norm_k, &rope),
                     v.unflatten(2, {config_.num_heads, config_.head_dim}), lse, sequence);
}

at::Tensor Transformer::CrossAttend(const Attention& attention, const at::Tensor& x,
                                    const TextContext& text, int index) const {
  return AttendHeads(attention, NormHeads(attention.q(x), attention.norm_q, nullptr),
                     text.keys.at(index), text.values.at(index), nullptr);
}

at::Tensor Transformer::NormHeads(const at::Tensor& projected, const at::Tensor& weight,
                                  const Rope* rope) const {
  return RmsNormRope(projected, weight, config_.eps, config_.head_dim,
                     rope != nullptr ? rope->cos : at::Tensor(),
                     rope != nullptr ? rope->sin : at::Tensor())
      .unflatten(2, {config_.num_heads, config_.head_dim});
}

at::Tensor Transformer::AttendHeads(const Attention& attention, const at::Tensor& q,
                                    const at::Tensor& k, const at::Tensor& v, at::Tensor* lse,
                                    const SequenceParallel* sequence) const {
  if (sequence != nullptr) {
    const LocalAttention local = [this](const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v,
                                        at::Tensor* lse) { return ScaledDotProduct(q, k, v, lse); };
    return attention.out(sequence->Attend(local, q, k, v, lse).flatten(2, 3));
  }
  const at::Tensor out =
      ScaledDotProduct(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), lse);
  return attention.out(out.transpose(1, 2).flatten(2, 3).to(q.scalar_type()));
}

at::Tensor Transformer::FeedForward(const BlockWeights& w, const at::Tensor& x) const {
  if (x.is_cuda()) {
    // cuBLASLt's GELU epilogue is the tanh approximation, computed before the one rounding.
    const at::Tensor hidden = at::_addmm_activation(w.ffn_in.bias, x.flatten(0, -2),
                                                    w.ffn_in.weight.t(), 1, 1, /*use_gelu=*/true);
    return w.ffn_out(hidden.unflatten(0, {x.size(0), x.size(1)}));
  }
  return w.ffn_out(GeluTanh(w.ffn_in(x)));
}

at::Tensor Transformer::ScaledDotProduct(const at::Tensor& q, const at::Tensor& k,
                                         const at::Tensor& v, at::Tensor* lse) const {
  // The fused kernels' log-sum-exp comes as [B, H, Sq] or [B, H, Sq, 1] float32.
  auto take_lse = [&](const at::Tensor& fused_lse) {
    *lse = fused_lse.reshape({q.size(0), q.size(1), q.size(2)}).to(at::kFloat);
  };
  // cuDNN's fused attention takes bf16/fp16 heads of a multiple of 8 up to 128 (the 1.3B and
  // 14B models); anything else goes through ATen's dispatcher.
  const bool half = q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf;
  const bool cudnn_shape = config_.head_dim % 8 == 0 && config_.head_dim <= 128;
  if (q.is_cuda() && half && cudnn_shape && options_.attention == AttentionKernel::kAuto) {
    const auto result = at::_scaled_dot_product_cudnn_attention(
        q, k, v, /*attn_bias=*/c10::nullopt, /*compute_log_sumexp=*/lse != nullptr);
    if (lse != nullptr) take_lse(std::get<1>(result));
    return std::get<0>(result);
  }
  if (q.is_cuda() && half && options_.attention == AttentionKernel::kFlash) {
    const auto result = at::_scaled_dot_product_flash_attention(q, k, v);
    if (lse != nullptr) take_lse(std::get<1>(result));
    return std::get<0>(result);
  }
  if (lse != nullptr && q.is_cpu()) {
    // The CPU's fused kernel, the one at::scaled_dot_product_attention dispatches to on the CPU
    // (the same output, bit for bit), returns the log-sum-exp too.
    const auto result = at::_scaled_dot_product_flash_attention_for_cpu(q, k, v);
    take_lse(std::get<1>(result));
    return std::get<0>(result);
  }
  if (lse != nullptr) {
    // The dispatcher's kernels do not return it: the scores' log-sum-exp, computed separately
    // in float32 (it materialises the [Sq, Sk] scores).
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    *lse =
        at::logsumexp(at::matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(-2, -1)) * scale, -1);
  }
  return at::scaled_dot_product_attention(q, k, v);
}

at::Tensor Transformer::Block(int index, const at::Tensor& hidden, const Conditioning& conditioning,
                              const Rope& rope) const {
  return RunBlock(index, hidden, /*selected=*/{}, conditioning, rope, /*lse=*/nullptr,
                  /*sequence=*/nullptr, /*cached=*/nullptr, /*fresh=*/{}, /*used=*/nullptr);
}

at::Tensor Transformer::SparseBlock(int index, const at::Tensor& hidden, const at::Tensor& selected,
                                    const Conditioning& conditioning, const Rope& rope,
                                    at::Tensor* lse, const SequenceParallel* sequence) const {
  return RunBlock(index, hidden, selected, conditioning, rope, lse, sequence, /*cached=*/nullptr,
                  /*fresh=*/{}, /*used=*/nullptr);
}

at::Tensor Transformer::BlockWithCache(int index, const at::Tensor& hidden,
                                       const Conditioning& conditioning, const Rope& rope,
                                       const Branches& cached, const at::Tensor& fresh,
                                       Branches* used) const {
  return RunBlock(index, hidden, /*selected=*/{}, conditioning, rope, /*lse=*/nullptr,
                  /*sequence=*/nullptr, &cached, fresh, used);
}

at::Tensor Transformer::ModulatedInput(int index, const at::Tensor& hidden,
                                       const Conditioning& conditioning) const {
  const BlockWeights& w = blocks_.at(index);
  const auto mod = (w.scale_shift_table + conditioning.modulation.to(at::kFloat)).chunk(6, 1);
  return ModulatedLayerNorm(hidden, {}, {}, /*scale=*/mod[1], /*shift=*/mod[0], config_.eps);
}

at::Tensor Transformer::RunBlock(int index, const at::Tensor& hidden, const at::Tensor& selected,
                                 const Conditioning& conditioning, const Rope& rope,
                                 at::Tensor* lse, const SequenceParallel* sequence,
                                 const Branches* cached, const at::Tensor& fresh,
                                 Branches* used) const {
  const BlockWeights& w = blocks_.at(index);
  const auto mod = (w.scale_shift_table + conditioning.modulation.to(at::kFloat)).chunk(6, 1);
  const at::Tensor &shift = mod[0], &scale = mod[1], &gate = mod[2];
  const at::Tensor &c_shift = mod[3], &c_scale = mod[4], &c_gate = mod[5];
  const double eps = config_.eps;

  // Keys and values need every token's normalised input; everything after the self-attention
  // is per token and runs on the selected rows only.
  at::Tensor attended;
  if (cached != nullptr && cached->self_attention.defined()) {
    attended = cached->self_attention;
  } else {
    const at::Tensor a = ModulatedLayerNorm(hidden, {}, {}, scale, shift, eps);
    at::Tensor head_lse;
    attended =
        SelfAttend(w.self_attn, a, selected, rope, lse != nullptr ? &head_lse : nullptr, sequence);
    if (lse != nullptr) *lse = head_lse.mean(1);
  }
  at::Tensor h = selected.defined() ? hidden.index_select(1, selected) : hidden;
  h = GatedResidual(h, attended, gate);

  const at::Tensor n2 = config_.cross_attn_norm
                            ? ModulatedLayerNorm(h, w.norm2_weight, w.norm2_bias, {}, {}, eps)
                            : h;
  const at::Tensor crossed = BranchOutput(
      cached != nullptr ? &cached->cross_attention : nullptr, fresh, n2,
      [&](const at::Tensor& x) { return CrossAttend(w.cross_attn, x, conditioning.text, index); });
  h = GatedResidual(h, crossed, {});

  const at::Tensor n3 = ModulatedLayerNorm(h, {}, {}, c_scale, c_shift, eps);
  const at::Tensor fed = BranchOutput(cached != nullptr ? &cached->feed_forward : nullptr, fresh,
                                      n3, [&](const at::Tensor& x) { return FeedForward(w, x); });
  if (used != nullptr) *used = {attended, crossed, fed};
  return GatedResidual(h, fed, c_gate);
}

at::Tensor Transformer::Head(const at::Tensor& hidden, const at::Tensor& temb, const Grid& grid,
                             const SequenceParallel* sequence) const {
  const auto shift_scale = (head_scale_shift_table_ + temb.unsqueeze(1)).chunk(2, 1);
  at::Tensor out =
      proj_out_(ModulatedLayerNorm(hidden, {}, {}, shift_scale[1], shift_scale[0], config_.eps));
  if (sequence != nullptr) out = sequence->Gather(out);
  const int64_t batch = hidden.size(0);
  return out
      .reshape({batch, grid.frames, grid.rows, grid.cols, config_.patch_t, config_.patch_h,
                config_.patch_w, config_.out_channels})
      .permute({0, 7, 1, 4, 2, 5, 3, 6})
      .reshape({batch, config_.out_channels, grid.frames * config_.patch_t,
                grid.rows * config_.patch_h, grid.cols * config_.patch_w});
}

at::Tensor Transformer::Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                const at::Tensor& text) const {
  return Forward(latents, timestep, EncodeText(text));
}

at::Tensor Transformer::Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                const TextContext& text, const SequenceParallel* sequence) const {
  Tokens tokens = Embed(latents, sequence);
  const Conditioning conditioning = Condition(timestep, text);
  for (int i = 0; i < config_.num_layers; ++i) {
    tokens.hidden = SparseBlock(i, tokens.hidden, /*selected=*/{}, conditioning, tokens.rope,
                                /*lse=*/nullptr, sequence);
  }
  return Head(tokens.hidden, conditioning.temb, tokens.grid, sequence);
}

}  // namespace videogen::engine::wan
