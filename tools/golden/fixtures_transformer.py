"""Golden fixture of the Wan transformer: a tiny random-weight WanTransformer3DModel in the
diffusers layout, its inputs, and diffusers' outputs stage by stage (fp32) and in the bf16 run.
Called by make_fixtures.py."""

import os

import safetensors.torch
import torch
from diffusers import WanTransformer3DModel

TINY_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    in_channels=4,
    out_channels=4,
    text_dim=32,
    freq_dim=16,
    ffn_dim=48,
    num_layers=2,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=32,
)


def randomize(module, generator, scale=0.2):
    """Replaces every parameter with fresh normal noise, so no weight is trivially zero or one."""
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * scale)


def generate(out_dir):
    generator = torch.Generator().manual_seed(20261123)
    model = WanTransformer3DModel(**TINY_TRANSFORMER).eval()
    randomize(model, generator)
    model_dir = os.path.join(out_dir, "transformer")
    model.save_pretrained(model_dir, safe_serialization=True)

    # One latent grid of 3x4x4 tokens (F=3, H=W=8 before patching), a batch of 2 with different
    # timesteps (as the pipeline's CFG pair), 7 text tokens.
    latents = torch.randn(2, 4, 3, 8, 8, generator=generator)
    timestep = torch.tensor([777, 3], dtype=torch.int64)
    text = torch.randn(2, 7, 32, generator=generator)
    golden = {"latents": latents, "timestep": timestep, "text": text}

    captured = {}
    model.blocks[0].register_forward_hook(lambda m, i, o: captured.__setitem__("block0", o))
    model.condition_embedder.register_forward_hook(
        lambda m, i, o: captured.__setitem__("condition", o))
    with torch.no_grad():
        cos, sin = model.rope(latents)
        out = model(latents, timestep, text, return_dict=False)[0]
    temb, timestep_proj, text_proj, _ = captured["condition"]
    golden.update({
        "fp32.rope_cos": cos, "fp32.rope_sin": sin, "fp32.temb": temb,
        "fp32.timestep_proj": timestep_proj, "fp32.text_proj": text_proj,
        "fp32.block0": captured["block0"], "fp32.output": out,
    })

    # The bf16 run as the pipeline does it: weights cast on load with the keep-in-fp32 list,
    # inputs cast to bf16.
    bf16 = WanTransformer3DModel.from_pretrained(model_dir, torch_dtype=torch.bfloat16).eval()
    with torch.no_grad():
        golden["bf16.output"] = bf16(latents.to(torch.bfloat16), timestep, text.to(torch.bfloat16),
                                     return_dict=False)[0]
    safetensors.torch.save_file({k: v.contiguous() for k, v in golden.items()},
                                os.path.join(out_dir, "transformer_golden.safetensors"))
