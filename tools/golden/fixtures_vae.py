"""Golden fixture of the VAE decoder: a tiny random-weight AutoencoderKLWan in the diffusers
layout (Wan2.1's structure: causal 3-D convs, two temporal and three spatial upsamplings, a
mid-block attention) and diffusers' decode of a 4-latent-frame video, from the pipeline's
denormalisation of the latents through the clamp to the uint8 frames. Called by make_fixtures.py.
"""

import os

import numpy as np
import safetensors.torch
import torch
from diffusers import AutoencoderKLWan
from diffusers.video_processor import VideoProcessor

# Wan2.1's VAE shape at a tiny width: decoder channels [16, 16, 16, 8, 4]; z_dim is the tiny
# transformer's latent width so the pipeline fixture can decode with this VAE.
TINY_VAE = dict(
    base_dim=4,
    z_dim=4,
    dim_mult=[1, 2, 4, 4],
    num_res_blocks=2,
    attn_scales=[],
    temperal_downsample=[False, True, True],
    latents_mean=[-0.7571, 0.1075, 0.9653, -0.3632],
    latents_std=[2.8184, 1.2196, 2.0743, 1.6382],
)


def randomize(module, generator):
    """Fresh weights: norm gains near one and conv weights scaled by fan-in, so activations stay
    O(1) through the stack and the output is not swamped by the final clamp."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("gamma"):
                param.copy_(1 + 0.2 * torch.randn(param.shape, generator=generator))
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))
            else:
                fan_in = param[0].numel()
                param.copy_(torch.randn(param.shape, generator=generator) / fan_in**0.5)


def decode_to_video(vae, latents):
    """WanPipeline's decode: z / (1 / std) + mean in the VAE dtype, then vae.decode (clamped)."""
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(latents.dtype)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(latents.dtype)
    return vae.decode(latents / inv_std + mean, return_dict=False)[0]


def to_uint8_frames(video):
    """The pipeline's postprocess to [B, F, H, W, 3] in [0, 1], rounded to uint8 as diffusers'
    numpy_to_pil does."""
    frames = VideoProcessor(vae_scale_factor=8).postprocess_video(video, output_type="np")
    return torch.from_numpy((frames * 255).round().astype(np.uint8))


def generate(out_dir):
    generator = torch.Generator().manual_seed(20261124)
    vae = AutoencoderKLWan(**TINY_VAE).eval()
    randomize(vae, generator)
    vae.save_pretrained(os.path.join(out_dir, "vae"), safe_serialization=True)

    # 4 latent frames (13 video frames) exercise the first-frame rule and the cache hand-over
    # between chunks; 2 batch items check that the batch is decoded independently.
    latents = torch.randn(2, 4, 4, 6, 8, generator=generator)
    with torch.no_grad():
        video = decode_to_video(vae, latents)
    clamped = ((video.abs() == 1).sum() / video.numel()).item()
    assert clamped < 0.05, f"{clamped:.1%} of the golden video is clamped; rescale the weights"
    golden = {"latents": latents, "video": video, "frames": to_uint8_frames(video)}
    safetensors.torch.save_file({k: v.contiguous() for k, v in golden.items()},
                                os.path.join(out_dir, "vae_golden.safetensors"))
