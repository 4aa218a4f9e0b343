"""Golden fixture of the whole pipeline: diffusers' WanPipeline assembled from the tiny tokenizer,
text encoder, transformer, scheduler and VAE fixtures, run on the CPU in float32 for a few steps
with classifier-free guidance and a seeded generator, recording the latents after every step and
the decoded uint8 frames. Called by make_fixtures.py after the component fixtures exist."""

import os

import numpy as np
import safetensors.torch
import torch
import transformers
from diffusers import (AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline,
                       WanTransformer3DModel)

SEED = 42
CASE = dict(prompt="a red fox runs through fresh snow", negative_prompt="blurry, low quality",
            height=32, width=32, num_frames=9, num_inference_steps=4, guidance_scale=5.0,
            max_sequence_length=16)


def record(model_dir, case, seed, path, frame_indices=None):
    """Runs `case` (WanPipeline's arguments) on the model folder with `seed` and writes the prompt
    embeddings, the initial noise, the latents after every step and the decoded uint8 frames
    (only `frame_indices`, when given, to keep the file small) to the safetensors file `path`."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(os.path.join(model_dir, "tokenizer"))
    text_encoder = transformers.UMT5EncoderModel.from_pretrained(
        os.path.join(model_dir, "text_encoder")).eval()
    transformer = WanTransformer3DModel.from_pretrained(
        os.path.join(model_dir, "transformer")).eval()
    scheduler = UniPCMultistepScheduler.from_pretrained(os.path.join(model_dir, "scheduler"))
    vae = AutoencoderKLWan.from_pretrained(os.path.join(model_dir, "vae")).eval()
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer,
                       vae=vae, scheduler=scheduler)

    steps = []
    def keep_latents(pipeline, step, timestep, callback_kwargs):
        steps.append(callback_kwargs["latents"].clone())
        return callback_kwargs

    with torch.no_grad():
        prompt_embeds, negative_embeds = pipe.encode_prompt(
            case["prompt"], case["negative_prompt"], do_classifier_free_guidance=True,
            max_sequence_length=case["max_sequence_length"], device="cpu")
        video = pipe(**case, generator=torch.Generator().manual_seed(seed),
                     output_type="np", callback_on_step_end=keep_latents).frames
    latents = steps[-1].clone()
    initial = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed))
    # The float frames in [0, 1] to uint8 as diffusers' numpy_to_pil rounds them.
    frames = torch.from_numpy((video[0] * 255).round().astype(np.uint8))
    golden = {"prompt_embeds": prompt_embeds, "negative_prompt_embeds": negative_embeds,
              "initial_latents": initial, "latents": latents}
    if frame_indices is None:
        golden["frames"] = frames
    else:
        golden["frame_indices"] = torch.tensor(frame_indices, dtype=torch.int64)
        golden["frames"] = frames[list(frame_indices)]
    golden.update({f"step{i}.latents": s for i, s in enumerate(steps)})
    safetensors.torch.save_file({k: v.contiguous() for k, v in golden.items()}, path,
                                metadata={k: str(v) for k, v in case.items()} | {"seed": str(seed)})


def generate(out_dir):
    record(out_dir, CASE, SEED, os.path.join(out_dir, "pipeline_golden.safetensors"))
