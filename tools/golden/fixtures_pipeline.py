"""Golden fixture of the denoising loop: diffusers' WanPipeline assembled from the tiny tokenizer,
text encoder, transformer and scheduler fixtures, run on the CPU in float32 for a few steps with
classifier-free guidance and a seeded generator, stopping at the latents (output_type="latent").
Called by make_fixtures.py after the component fixtures exist."""

import os

import safetensors.torch
import torch
import transformers
from diffusers import (AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline,
                       WanTransformer3DModel)

SEED = 42
CASE = dict(prompt="a red fox runs through fresh snow", negative_prompt="blurry, low quality",
            height=32, width=32, num_frames=9, num_inference_steps=4, guidance_scale=5.0,
            max_sequence_length=16)


def generate(out_dir):
    tokenizer = transformers.AutoTokenizer.from_pretrained(os.path.join(out_dir, "tokenizer"))
    text_encoder = transformers.UMT5EncoderModel.from_pretrained(
        os.path.join(out_dir, "text_encoder")).eval()
    transformer = WanTransformer3DModel.from_pretrained(os.path.join(out_dir, "transformer")).eval()
    scheduler = UniPCMultistepScheduler.from_pretrained(os.path.join(out_dir, "scheduler"))
    # The pipeline reads only the VAE's scale factors when it stops at the latents; a small
    # AutoencoderKLWan with Wan2.1's factors (4 in time, 8 in space) stands in for it.
    vae = AutoencoderKLWan(base_dim=8, z_dim=transformer.config.in_channels,
                           dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                           temperal_downsample=[False, True, True])
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer,
                       vae=vae, scheduler=scheduler)

    steps = []
    def record(pipeline, step, timestep, callback_kwargs):
        steps.append(callback_kwargs["latents"].clone())
        return callback_kwargs

    with torch.no_grad():
        prompt_embeds, negative_embeds = pipe.encode_prompt(
            CASE["prompt"], CASE["negative_prompt"], do_classifier_free_guidance=True,
            max_sequence_length=CASE["max_sequence_length"], device="cpu")
        latents = pipe(**CASE, generator=torch.Generator().manual_seed(SEED),
                       output_type="latent", callback_on_step_end=record).frames
    initial = torch.randn(latents.shape, generator=torch.Generator().manual_seed(SEED))
    golden = {"prompt_embeds": prompt_embeds, "negative_prompt_embeds": negative_embeds,
              "initial_latents": initial, "latents": latents}
    golden.update({f"step{i}.latents": s for i, s in enumerate(steps)})
    safetensors.torch.save_file({k: v.contiguous() for k, v in golden.items()},
                                os.path.join(out_dir, "pipeline_golden.safetensors"),
                                metadata={k: str(v) for k, v in CASE.items()} | {"seed": str(SEED)})
