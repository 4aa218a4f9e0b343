// WanTransformer3DModel (Wan2.1 text-to-video) in LibTorch, numerically following diffusers.
//
// Forward = PatchEmbed -> Condition -> Block x num_layers -> Head. The stages are public so that
// the token-wise (ASTRAEA) runner can drive each block on a subset of tokens; Forward() is the
// dense model. Dtypes follow diffusers' bf16 run: the hidden stream and most weights in the run
// dtype, LayerNorms/modulation/gates and the time embedder in float32 (KeepInFp32Modules()).
// Shapes: latents [B, C, F, H, W]; timestep [B]; text [B, L, text_dim]; tokens [B, S, D] with
// S = (F/pt)(H/ph)(W/pw) in frame-major, row, column order.
//
// Sequence parallelism: Forward(), Embed(), SparseBlock() and Head() take an optional
// SequenceParallel (engine/wan/sequence_parallel.h); with one, a call works on this rank's shard
// of the tokens and self-attention and the head's output cross ranks through it. Without one
// (or with one of a single shard) the computation is the single-process one, kernel for kernel.
//
// Errors: Create()/Load() return absl::Status. The compute methods call LibTorch directly and may
// throw c10::Error (e.g. out of device memory); callers convert at their boundary with
// RunTorch() (engine/common/torch_status.h). ValidateInputs() checks shapes up front.
//
// Thread-safe: all methods are const; weights are immutable after Create().
#ifndef VIDEOGEN_ENGINE_WAN_TRANSFORMER_H_
#define VIDEOGEN_ENGINE_WAN_TRANSFORMER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/wan/sequence_parallel.h"
#include "engine/wan/transformer_config.h"
#include "engine/weights/checkpoint.h"

namespace videogen::engine::wan {

// The fused attention kernel used for self- and cross-attention.
enum class AttentionKernel {
  kAuto,   // cuDNN for bf16/fp16 on CUDA when the head size allows, else ATen's dispatcher.
  kAten,   // at::scaled_dot_product_attention's own choice (flash / efficient / math).
  kFlash,  // FlashAttention through ATen (CUDA, bf16/fp16).
};

struct TransformerOptions {
  AttentionKernel attention = AttentionKernel::kAuto;
};

class Transformer {
 public:
  // Per-call conditioning shared by all blocks.
  // The text side of the model for one prompt embedding, fixed across denoising steps: a job
  // computes it once (EncodeText) instead of at every forward.
  struct TextContext {
    at::Tensor projected;  // [B, L, D], run dtype (the text embedder's output).
    // Per block, the cross-attention keys (after the k-norm) and values, [B, L, heads, head_dim].
    std::vector<at::Tensor> keys, values;
  };
  struct Conditioning {
    at::Tensor temb;        // [B, D], run dtype (input of the head's modulation).
    at::Tensor modulation;  // [B, 6, D], run dtype (timestep_proj: the blocks' modulation).
    TextContext text;
  };
  // Rotary tables for a token grid: [1, S, 1, head_dim] float32 each.
  struct Rope {
    at::Tensor cos, sin;
  };
  // The post-patch token grid.
  struct Grid {
    int64_t frames, rows, cols;
    int64_t tokens() const { return frames * rows * cols; }
  };

  // Parameter names and shapes of the checkpoint (diffusers state-dict names).
  static ParameterShapes Parameters(const TransformerConfig& config);
  // diffusers' _keep_in_fp32_modules for this model.
  static const std::vector<std::string>& KeepInFp32Modules();

  // Takes `weights` (as loaded with the dtype policy above) and moves them to `device`.
  // INVALID_ARGUMENT if a tensor is missing or misshaped.
  static absl::StatusOr<std::unique_ptr<Transformer>> Create(
      const TransformerConfig& config, std::map<std::string, at::Tensor> weights,
      const at::Device& device, const TransformerOptions& options = {});

  // Loads `dir`/config.json and the weights in `dir` (a diffusers `transformer/` folder), casting
  // floating-point weights to `dtype` except KeepInFp32Modules().
  static absl::StatusOr<std::unique_ptr<Transformer>> Load(const std::string& dir,
                                                           c10::ScalarType dtype,
                                                           const at::Device& device,
                                                           const TransformerOptions& options = {});

  const TransformerConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return dtype_; }
  const at::Device& device() const { return device_; }

  // INVALID_ARGUMENT naming the input whose shape or device does not fit the model.
  absl::Status ValidateInputs(const at::Tensor& latents, const at::Tensor& timestep,
                              const at::Tensor& text) const;
  absl::Status ValidateInputs(const at::Tensor& latents, const at::Tensor& timestep,
                              const TextContext& text) const;

  // The dense model: the predicted flow velocity [B, out_channels, F, H, W] in the run dtype.
  at::Tensor Forward(const at::Tensor& latents, const at::Tensor& timestep,
                     const at::Tensor& text) const;
  // The same with the text side precomputed by EncodeText() (identical results); with
  // `sequence`, computed sequence-parallel (every rank of the group gets the whole output).
  at::Tensor Forward(const at::Tensor& latents, const at::Tensor& timestep, const TextContext& text,
                     const SequenceParallel* sequence = nullptr) const;

  // A forward's input tokens: the post-patch grid, and the rotary tables [1, S, 1, head_dim] and
  // patch embeddings [B, S, D] of all S tokens, or, with `sequence`, of this rank's shard
  // (sequence->shard().size() rows, zero-padded; its `tokens` must be the grid's).
  struct Tokens {
    Grid grid;
    Rope rope;
    at::Tensor hidden;
  };

  // Stages of Forward().
  Tokens Embed(const at::Tensor& latents, const SequenceParallel* sequence = nullptr) const;
  Grid GridOf(const at::Tensor& latents) const;
  at::Tensor PatchEmbed(const at::Tensor& latents) const;  // -> [B, S, D]
  Rope RotaryEmbedding(const Grid& grid) const;
  TextContext EncodeText(const at::Tensor& text) const;
  Conditioning Condition(const at::Tensor& timestep, const at::Tensor& text) const;
  Conditioning Condition(const at::Tensor& timestep, TextContext text) const;
  at::Tensor Block(int index, const at::Tensor& hidden, const Conditioning& conditioning,
                   const Rope& rope) const;
  // Block `index` computed for the query tokens `selected` only (ASTRAEA's sparse-query block):
  // the modulated norm and the keys/values (with k-norm and RoPE) use all S tokens of `hidden`;
  // the queries, attention rows, output projection, cross-attention and feed-forward run on the
  // selected tokens. `selected` is [k] int64, distinct indices into S shared by the batch
  // (ascending keeps the gathers coalesced); undefined means all tokens, computed exactly as
  // Block(). Returns the selected tokens' outputs [B, k, D]. If `lse` is not null it receives
  // each selected token's self-attention log-sum-exp averaged over heads, [B, k] float32 (from
  // the fused attention kernel; computed separately only for float32 on CUDA). With `sequence`,
  // `hidden` and `rope` are this rank's shard (Embed()) and the keys and values of every rank's
  // shard are attended.
  at::Tensor SparseBlock(int index, const at::Tensor& hidden, const at::Tensor& selected,
                         const Conditioning& conditioning, const Rope& rope, at::Tensor* lse,
                         const SequenceParallel* sequence = nullptr) const;
  // The outputs of block `index`'s three residual branches, as the block adds them to its
  // input: the self-attention's (after its output projection, before its gate), the
  // cross-attention's, and the feed-forward's (before its gate); each [B, S, D], run dtype.
  struct Branches {
    at::Tensor self_attention, cross_attention, feed_forward;
  };
  // Block() for policies that reuse branch outputs of an earlier step (PAB, ToCa): a branch
  // defined in `cached` is taken from it instead of computed, except that the cross-attention
  // and feed-forward rows of the tokens `fresh` ([k] int64, distinct, ascending; undefined means
  // none) are computed anyway and replace the cached rows. Norms, gates and modulation always
  // use this step's `conditioning`. With nothing cached it is Block(), kernel for kernel. If
  // `used` is not null it receives the branch outputs the block added (computed, cached, or
  // cached with fresh rows), for the caller to keep.
  at::Tensor BlockWithCache(int index, const at::Tensor& hidden, const Conditioning& conditioning,
                            const Rope& rope, const Branches& cached, const at::Tensor& fresh,
                            Branches* used) const;
  // Block `index`'s modulated, normalised input to its self-attention, [B, S, D] in the run
  // dtype: the signal TeaCache tracks (on block 0) to decide whether a step can be skipped.
  at::Tensor ModulatedInput(int index, const at::Tensor& hidden,
                            const Conditioning& conditioning) const;
  // The output projection of the tokens `hidden` [B, S, D] to the velocity
  // [B, out_channels, F, H, W]; with `sequence`, of this rank's shard, gathered from all ranks.
  at::Tensor Head(const at::Tensor& hidden, const at::Tensor& temb, const Grid& grid,
                  const SequenceParallel* sequence = nullptr) const;

 private:
  struct Linear {
    at::Tensor weight, bias;
    at::Tensor operator()(const at::Tensor& x) const;
  };
  struct Attention {
    Linear q, k, v, out;
    at::Tensor norm_q, norm_k;  // RMSNorm weights over all heads, [D].
    // On CUDA, the projections that share an input as one GEMM: q|k|v for self-attention,
    // k|v of the text for cross-attention (one wider GEMM instead of two or three); q, k, v
    // are then row slices of these (no second copy of the weights).
    Linear qkv, kv;
  };
  struct BlockWeights {
    at::Tensor scale_shift_table;  // [1, 6, D] float32.
    Attention self_attn, cross_attn;
    at::Tensor norm2_weight, norm2_bias;  // Affine cross-attention norm (if cross_attn_norm).
    Linear ffn_in, ffn_out;
  };

  // Block `index` with SparseBlock()'s `selected`, `lse` and `sequence` and BlockWithCache()'s
  // `cached` (null: nothing cached), `fresh` and `used`.
  at::Tensor RunBlock(int index, const at::Tensor& hidden, const at::Tensor& selected,
                      const Conditioning& conditioning, const Rope& rope, at::Tensor* lse,
                      const SequenceParallel* sequence, const Branches* cached,
                      const at::Tensor& fresh, Branches* used) const;
  // The latents' and timestep's part of ValidateInputs().
  absl::Status ValidateLatents(const at::Tensor& latents, const at::Tensor& timestep) const;
  Transformer(const TransformerConfig& config, std::map<std::string, at::Tensor> weights,
              const at::Device& device, const TransformerOptions& options);
  // softmax(q k^T / sqrt(d)) v for q [B, H, Sq, d], k, v [B, H, Sk, d]; if `lse` is not null,
  // also the log-sum-exp of each query's scores, [B, H, Sq] float32.
  at::Tensor ScaledDotProduct(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              at::Tensor* lse) const;
  // Self-attention of the tokens `selected` of `x` (all if undefined) over all of `x` (and the
  // other ranks' shards with `sequence`), with RoPE; `lse` as in SparseBlock().
  at::Tensor SelfAttend(const Attention& attention, const at::Tensor& x, const at::Tensor& selected,
                        const Rope& rope, at::Tensor* lse, const SequenceParallel* sequence) const;
  // Cross-attention of `x` over block `index`'s text keys and values, without RoPE.
  at::Tensor CrossAttend(const Attention& attention, const at::Tensor& x, const TextContext& text,
                         int index) const;
  // RMSNorm `weight` and RoPE (none if null) of a projection [B, S, D], split into heads
  // [B, S, heads, head_dim].
  at::Tensor NormHeads(const at::Tensor& projected, const at::Tensor& weight,
                       const Rope* rope) const;
  // Attention of q [B, Sq, heads, head_dim] over k, v [B, Sk, heads, head_dim] (through
  // `sequence` if set) and the output projection; `lse` as in ScaledDotProduct().
  at::Tensor AttendHeads(const Attention& attention, const at::Tensor& q, const at::Tensor& k,
                         const at::Tensor& v, at::Tensor* lse,
                         const SequenceParallel* sequence = nullptr) const;
  // GELU(tanh)(x W1 + b1) W2 + b2; on CUDA the GELU runs in the first GEMM's epilogue.
  at::Tensor FeedForward(const BlockWeights& weights, const at::Tensor& x) const;

  const TransformerConfig config_;
  const TransformerOptions options_;
  at::Device device_;  // With its index, as the weights report it.
  c10::ScalarType dtype_;
  at::Tensor patch_weight_, patch_bias_;
  Linear time_1_, time_2_, time_proj_, text_1_, text_2_, proj_out_;
  at::Tensor head_scale_shift_table_;  // [1, 2, D] float32.
  std::vector<BlockWeights> blocks_;
  at::Tensor rope_cos_, rope_sin_;  // [rope_max_seq_len, head_dim] float32, axes t | h | w.
};

}  // namespace videogen::engine::wan

#endif  // VIDEOGEN_ENGINE_WAN_TRANSFORMER_H_
