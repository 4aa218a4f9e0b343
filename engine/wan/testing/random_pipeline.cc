#include "engine/wan/testing/random_pipeline.h"

#include <utility>

#include "engine/common/status_macros.h"
#include "engine/scheduler/flow_scheduler_config.h"
#include "engine/text/tokenizer.h"
#include "engine/text/umt5_config.h"
#include "engine/text/umt5_encoder.h"
#include "engine/wan/transformer.h"
#include "engine/wan/vae_config.h"
#include "engine/wan/vae_decoder.h"
#include "engine/weights/testing/random_weights.h"
#include "tests/testing/runfiles.h"

namespace videogen::engine::wan::testing {
namespace {

// text_encoder/config.json of Wan2.1-T2V-1.3B-Diffusers (umT5-XXL encoder).
constexpr char kUmt5Xxl[] = R"({
  "model_type": "umt5", "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24,
  "num_heads": 64, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
  "vocab_size": 256384, "feed_forward_proj": "gated-gelu", "layer_norm_epsilon": 1e-6,
  "is_gated_act": true, "dense_act_fn": "gelu_new", "pad_token_id": 0, "eos_token_id": 1,
  "tie_word_embeddings": false})";

// vae/config.json of Wan2.1-T2V-1.3B-Diffusers.
constexpr char kWan21Vae[] = R"({
  "attn_scales": [], "base_dim": 96, "dim_mult": [1, 2, 4, 4], "dropout": 0.0,
  "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                   0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
  "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                  3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916],
  "num_res_blocks": 2, "temperal_downsample": [false, true, true], "z_dim": 16})";

}  // namespace

absl::StatusOr<std::unique_ptr<Pipeline>> RandomWan21Pipeline1p3B(
    const at::Device& device, const astraea::SparseOptions& sparse) {
  Pipeline::Components components;
  components.sparse = sparse;
  VG_ASSIGN_OR_RETURN(
      components.tokenizer,
      text::Tokenizer::Load(videogen::testing::RunfilePath("tests/golden/wan_tiny/tokenizer")));
  VG_ASSIGN_OR_RETURN(const text::Umt5Config umt5, text::ParseUmt5Config(kUmt5Xxl, "umt5-xxl"));
  LoadOptions text_policy;
  text_policy.dtype = at::kBFloat16;
  VG_ASSIGN_OR_RETURN(
      components.text_encoder,
      text::Umt5Encoder::Create(
          umt5,
          engine::testing::RandomWeights(text::Umt5Encoder::Parameters(umt5), text_policy, device),
          device));
  const TransformerConfig config;  // 1.3B.
  LoadOptions policy;
  policy.dtype = at::kBFloat16;
  policy.keep_in_fp32_modules = Transformer::KeepInFp32Modules();
  VG_ASSIGN_OR_RETURN(
      components.transformer,
      Transformer::Create(
          config, engine::testing::RandomWeights(Transformer::Parameters(config), policy, device),
          device));
  VG_ASSIGN_OR_RETURN(components.scheduler_config,
                      scheduler::LoadFlowSchedulerConfig(videogen::testing::RunfilePath(
                          "tests/golden/wan_tiny/scheduler/scheduler_config.json")));
  VG_ASSIGN_OR_RETURN(const VaeConfig vae_config, ParseVaeConfig(kWan21Vae, "wan2.1 vae"));
  VG_ASSIGN_OR_RETURN(
      components.vae,
      VaeDecoder::Create(
          vae_config,
          engine::testing::RandomWeights(VaeDecoder::Parameters(vae_config), {}, device), device));
  return Pipeline::Create(std::move(components));
}

}  // namespace videogen::engine::wan::testing
