"""Trains the embedded demo model (issue 9) on procedural clips and writes it as a
diffusers-format Wan2.1 folder that the C++ engine loads unchanged.

    $(tools/golden/setup_venv.sh) tools/demo_model/train.py --out DIR [--scale full|toy]
        [--device cuda] [--vae_steps N] [--transformer_steps N] [--seed S] [--init DIR]
        [--transformer_clip HxWxF] [--transformer_batch N] [--latent_pool N]
        [--transformer_rate R]

Pinned torch 2.11.0 / diffusers 0.42.1 / transformers 5.23.0 (tools/golden/setup_venv.sh): the
model classes and the folder format are diffusers' own (AutoencoderKLWan, WanTransformer3DModel,
UMT5EncoderModel, T5Tokenizer, the Wan2.1 UniPC scheduler config), so loading the result in the
engine also proves format compatibility.

Stages (each logged to DIR/training_log.json with its losses and time):
1. tokenizer: SentencePiece unigram trained on the caption grammar (tools/demo_data/clips.py),
   seeded with the grammar's words so that every word is one piece;
2. text encoder: a small umT5 encoder, trained with the transformer (stage 4);
3. VAE: a small Wan VAE (8x spatial, 4x temporal) trained to reconstruct crops of clips (L1 +
   MSE weighted to the objects, + a light KL), then its latents' per-channel mean and std
   (latents_mean/std, as Wan2.1's), and its round trip of held-out clips checked;
4. transformer and text encoder: a small Wan transformer trained with the flow-matching
   objective on normalised latents, together with the text encoder, the caption dropped (empty
   prompt) 10% of the time so that guidance works; batches are drawn from a pool of encoded
   clips that new clips keep replacing (Scale.latent_pool);
5. a check that the result reads its prompts (text_reliance: held-out loss with the right
   caption, another one and none), logged and kept in the training log.
Clips are rendered on the fly from seeds, so nothing but the model is written. --init continues
from an earlier output: its tokenizer is kept, its VAE too unless --vae_steps is given (then the
VAE trains further, and the transformer continues on the new latents), and its transformer and
text encoder train further; each stage on clips it has not seen (the earlier log is kept under
"init"). A stage given 0 steps is skipped.

The log lines give each stage's share of time spent waiting for clips ("data") and encoding them
into the latent pool ("encode"); the rest is the model's forward, backward and update.
"""

import argparse
import collections
import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import types

import numpy as np
import torch
import transformers
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from diffusers.pipelines.wan import pipeline_wan
from transformers import UMT5Config, UMT5EncoderModel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "demo_data"))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
import clips  # noqa: E402
import fixtures_text  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Scale:
    """Clip size and model widths. `full` is the shipped model: 320x448 pixels give 20x28 = 560
    tokens per latent frame (enough that token selection matters), 17 frames give 5 latent frames
    (2800 tokens); `toy` is for checking the script on a CPU."""
    height: int
    width: int
    frames: int
    vae_base_dim: int
    z_dim: int
    text_dim: int
    heads: int
    head_dim: int
    ffn_dim: int
    layers: int
    max_sequence_length: int
    vae_batch: int
    transformer_batch: int
    # The transformer trains on batches drawn from a pool of `latent_pool` encoded clips, of which
    # every `refresh_group // transformer_refresh` steps the oldest `refresh_group` are replaced
    # by new ones: the VAE encode of full clips costs more than the small transformer's step, and
    # each clip then serves about transformer_batch / transformer_refresh steps at that fraction
    # of the encoding. Encoding a large group at once spreads the encoder's per-call overhead
    # (its layers run chunk by chunk over time, many small kernels) over many clips.
    latent_pool: int
    transformer_refresh: int
    refresh_group: int
    # The VAE trains on random spatial crops (height, width) of whole clips: it is convolutional
    # in space, so it decodes whole frames as well, and a crop costs a fraction of a clip. Its
    # time axis is causal with a feature cache carried from chunk to chunk, so crops keep every
    # frame: a VAE trained on 5-frame crops reconstructed the first two latent frames of a
    # 17-frame clip and drifted in colour after them (measured on the H100, 2026-12-07).
    vae_crop: tuple


SCALES = {
    "full": Scale(height=320, width=448, frames=17, vae_base_dim=16, z_dim=8, text_dim=64,
                  heads=4, head_dim=32, ffn_dim=512, layers=6, max_sequence_length=512,
                  vae_batch=16, transformer_batch=32, vae_crop=(128, 128), latent_pool=2048,
                  transformer_refresh=4, refresh_group=64),
    "toy": Scale(height=64, width=96, frames=5, vae_base_dim=8, z_dim=4, text_dim=32, heads=2,
                 head_dim=16, ffn_dim=64, layers=2, max_sequence_length=32, vae_batch=2,
                 transformer_batch=2, vae_crop=(32, 32), latent_pool=4, transformer_refresh=1,
                 refresh_group=2),
}
EXTRA_IDS = 10
CFG_DROPOUT = 0.1
FOREGROUND_WEIGHT = 10.0  # See loss_weights.
FIRST_FRAME_WEIGHT = 4.0  # See loss_weights.
FLOW_SHIFT = 3.0  # The Wan2.1 480p scheduler's (tests/golden/wan_tiny/scheduler).


def _crop_corner(scene: clips.Scene, size, crop, rng):
    """The (top, left) of a `crop` (height, width) of a frame of `size` (height, width): half of
    the time anywhere, half of the time around the main object's position at a random moment
    (jittered by a quarter crop). The objects cover a few percent of a frame, so random crops
    alone show the VAE little but background."""
    if rng.random() < 0.5:
        return tuple(int(rng.integers(0, n - c + 1)) for n, c in zip(size, crop))
    t = rng.random()
    centre = (scene.main.start[1] + (scene.main.end[1] - scene.main.start[1]) * t,
              scene.main.start[0] + (scene.main.end[0] - scene.main.start[0]) * t)
    return tuple(int(np.clip(f * n - c / 2 + rng.uniform(-c / 4, c / 4), 0, n - c))
                 for f, n, c in zip(centre, size, crop))


def _render_clip(args):
    """Clip `seed` as uint8 [frames, height, width, 3], or a `crop` (height, width) of it (chosen
    by the seed, see _crop_corner), and its caption."""
    seed, scale, crop = args
    video, caption, scene = clips.make_clip(seed, scale.frames, scale.height, scale.width)
    if crop is not None:
        top, left = _crop_corner(scene, video.shape[1:3], crop, np.random.default_rng(seed))
        video = np.ascontiguousarray(video[:, top:top + crop[0], left:left + crop[1]])
    return video, caption


def model_input(video: torch.Tensor, device) -> torch.Tensor:
    """uint8 clips [B, F, H, W, 3] as the VAE's input: float [B, 3, F, H, W] in [-1, 1], on
    `device` (converted there: a float clip is 4x the bytes to move)."""
    return video.to(device).permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1)


def as_batch(rendered):
    """[(video, caption)] from _render_clip as (uint8 [B, F, H, W, 3] (see model_input),
    captions)."""
    return (torch.from_numpy(np.stack([video for video, _ in rendered])),
            [caption for _, caption in rendered])


class Renderer:
    """Renders clips by seed in one pool of worker processes for the whole run (or, with one
    worker, in this process)."""

    def __init__(self, workers: int):
        # Spawned, not forked: forking after LibTorch started its threads can deadlock.
        self.pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None

    def start(self, scale: Scale, seeds, crop=None):
        """Starts rendering clips `seeds` (whole, or random `crop`s (height, width) of them);
        returns a function that waits for them and gives [(video, caption)]."""
        jobs = [(seed, scale, crop) for seed in seeds]
        if self.pool is None:
            rendered = [_render_clip(job) for job in jobs]
            return lambda: rendered
        return self.pool.map_async(_render_clip, jobs, chunksize=2).get

    def batch(self, scale: Scale, first_seed: int, count: int):
        """Whole clips first_seed, first_seed + 1, ... as one batch (see as_batch)."""
        return as_batch(self.start(scale, range(first_seed, first_seed + count))())


class ClipStream:
    """Batches of clips from consecutive seeds (whole, or random `crop`s (height, width) of
    them), rendered by `renderer`, the next group of batches always in flight while the current
    one trains."""

    def __init__(self, renderer: Renderer, scale: Scale, batch: int, first_seed: int, crop=None):
        self.renderer, self.scale, self.batch, self.seed, self.crop = (
            renderer, scale, batch, first_seed, crop)
        self.pending = None  # (count, the wait for it) of the next group.

    def _start(self, count: int):
        seeds = range(self.seed, self.seed + count * self.batch)
        self.seed += count * self.batch
        return count, self.renderer.start(self.scale, seeds, self.crop)

    def next(self, count: int):
        """`count` batches (see as_batch)."""
        if self.pending is None or self.pending[0] != count:
            self.pending = self._start(count)
        rendered = self.pending[1]()
        self.pending = self._start(count)
        return [as_batch(rendered[i * self.batch:(i + 1) * self.batch]) for i in range(count)]


def caption_corpus(count: int):
    return [clips.make_scene(seed).caption() for seed in range(count)]


def prompt_embeds(tokenizer, encoder, prompts, max_length, device):
    """diffusers' own WanPipeline._get_t5_prompt_embeds (rows past each prompt zeroed), with
    gradients to the encoder when they are enabled."""
    pipe = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=encoder,
                                 _execution_device=device)
    return pipeline_wan.WanPipeline._get_t5_prompt_embeds(
        pipe, prompt=prompts, max_sequence_length=max_length, device=device)


def word_seed_pieces(corpus, path):
    """Writes the corpus's words, each with its count, as a SentencePiece seed-pieces file. Left
    to itself the unigram trainer seeds with substrings shared by several distinct words, which
    on this small vocabulary split most words into letters ("white" -> "w", "h", "i", "te")."""
    counts = collections.Counter(word for caption in corpus for word in caption.split())
    with open(path, "w") as f:
        for word, count in sorted(counts.items()):
            f.write(f"\u2581{word}\t{count}\n")


@dataclasses.dataclass(frozen=True)
class LearningRate:
    """Linear warm-up over `warmup` steps, then a cosine from `peak` down to `floor` * `peak`
    over the stage's progress: its share of the steps or of the minutes, whichever is larger,
    so that a stage cut short by time still anneals."""
    peak: float
    warmup: int
    floor: float

    def at(self, step: int, progress: float) -> float:
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return self.peak * min(1.0, (step + 1) / self.warmup) * (
            self.floor + (1 - self.floor) * cosine)


class Stopwatch:
    """Wall time per named part of the training steps (the device synchronised at each part's
    end, so that its queued work counts where it was issued)."""

    def __init__(self, device):
        self.device, self.seconds = device, collections.Counter()

    @contextlib.contextmanager
    def part(self, name: str):
        start = time.time()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds[name] += time.time() - start

    def shares(self, total: float) -> str:
        return " ".join(f"{name} {100 * seconds / total:.0f}%"
                        for name, seconds in sorted(self.seconds.items()))


def fit(name, modules, optimizer, rate: LearningRate, steps: int, minutes: float, loss_of,
        watch: Stopwatch, log):
    """Optimises `modules` with `loss_of(step)` for `steps` steps or `minutes`, whichever ends
    first; returns the stage's record for the training log."""
    for module in modules:
        module.train()
    parameters = [p for module in modules for p in module.parameters()]
    start, losses = time.time(), []
    deadline = start + minutes * 60
    while len(losses) < steps and time.time() < deadline:
        progress = max(len(losses) / steps, (time.time() - start) / (minutes * 60))
        for group in optimizer.param_groups:
            group["lr"] = rate.at(len(losses), progress)
        loss = loss_of(len(losses))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        losses.append(loss.item())
        if len(losses) % 50 == 0 or len(losses) == steps:
            elapsed = time.time() - start
            log(f"{name} step {len(losses)}/{steps} loss {np.mean(losses[-50:]):.4f}, "
                f"{len(losses) / elapsed:.2f} steps/s, {watch.shares(elapsed)}")
    for module in modules:
        module.eval()
    return {"steps": len(losses), "seconds": time.time() - start, "loss_first": losses[0],
            "loss_last50": float(np.mean(losses[-50:])), "losses_every_50": losses[::50],
            "learning_rate": dataclasses.asdict(rate),
            "seconds_by_part": dict(watch.seconds)}


def decode_unclamped(vae, z: torch.Tensor) -> torch.Tensor:
    """AutoencoderKLWan._decode (diffusers 0.42.1) without its final clamp to [-1, 1]: a clamped
    output has no gradient, so a pixel decoded past the range (black, white) would stay wrong.
    The demo VAE uses neither tiling nor patching; check_decode_unclamped checks the equality."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    frames = []
    for i in range(x.shape[2]):
        vae._conv_idx = [0]
        frames.append(vae.decoder(x[:, :, i:i + 1], feat_cache=vae._feat_map,
                                  feat_idx=vae._conv_idx, first_chunk=i == 0))
    vae.clear_cache()
    return torch.cat(frames, 2)


@torch.no_grad()
def check_decode_unclamped(vae, z: torch.Tensor):
    if not torch.equal(decode_unclamped(vae, z).clamp(-1, 1), vae.decode(z).sample):
        raise RuntimeError("decode_unclamped no longer matches AutoencoderKLWan.decode: check "
                           "the diffusers version")


def loss_weights(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel loss weights for VAE inputs `x` (model_input).

    FOREGROUND_WEIGHT where the pixel is not a background shade (plain or striped, clips.measure's
    palette), 1 elsewhere: the objects cover a few percent of a frame, so an unweighted loss
    reaches a low value with the objects smeared into the background (the mid-size CPU check's VAE
    had a round-trip error of 8.7 levels and lost the main object in 7 of 8 clips).

    Times FIRST_FRAME_WEIGHT on the first frame, which the causal VAE encodes alone into the first
    latent frame while every later latent frame holds four: the weight gives each latent frame an
    equal share of the loss. Continuing the same mid-size VAE 12 minutes on the CPU, it lowered
    the first frame's round-trip error from 9.7 to 7.7 levels (64 held-out clips)."""
    shades = torch.from_numpy(clips.background_shades()).to(x.device) / 127.5 - 1
    distance = (x.unsqueeze(1) - shades.view(1, -1, 3, 1, 1, 1)).abs().amax(2)
    weights = torch.where(distance.amin(1, keepdim=True) > 0.2, FOREGROUND_WEIGHT, 1.0)
    weights[:, :, 0] *= FIRST_FRAME_WEIGHT
    return weights


def train_vae(vae, stream: ClipStream, steps: int, minutes: float, device, log):
    """Reconstruction (L1 + MSE of the unclamped decode, weighted to the foreground) of the
    posterior's mode, with a light KL term that keeps the latents' scale, on the stream's clips
    (spatial crops). The mode, not a sample: everything downstream encodes with the mode, and
    the sample's unit noise at initialisation buries the signal; on toy clips (2,000 steps, CPU)
    the held-out round trip was off by 17.8 levels with the mode against 26.2 with samples."""
    optimizer = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    rate = LearningRate(peak=1e-3, warmup=1, floor=0.1)
    watch, batches = Stopwatch(device), []

    def loss_of(step):
        with watch.part("data"):
            if not batches:
                batches.extend(stream.next(4))
            x = model_input(batches.pop(0)[0], device)
        posterior = vae.encode(x).latent_dist
        z = posterior.mode()
        if step == 0:
            check_decode_unclamped(vae, z)
        recon = decode_unclamped(vae, z)
        kl = posterior.kl().mean() / x[0].numel()
        error = recon - x
        weights = loss_weights(x)
        return ((error.abs() + error ** 2) * weights).sum() / (weights.sum() * 3) + 1e-4 * kl

    return fit("vae", [vae], optimizer, rate, steps, minutes, loss_of, watch, log)


@torch.no_grad()
def reconstruction_check(vae, renderer: Renderer, scale: Scale, device):
    """The VAE's round trip of 16 held-out whole clips (seeds from 3,500,000): mean absolute
    error in levels (0-255), that of the first frame (encoded on its own) and how often
    clips.adherence still finds the main object's colour and direction: the ceiling of the
    whole model's adherence."""
    video, _ = renderer.batch(scale, 3_500_000, 16)
    errors, first, verdicts = [], [], []
    for i, part in enumerate(video.split(4)):
        out = vae.decode(vae.encode(model_input(part, device)).latent_dist.mode()).sample
        out = ((out.permute(0, 2, 3, 4, 1).float() + 1) * 127.5).round().clamp(0, 255).cpu()
        error = (out - part.float()).abs()
        errors.append(error.mean().item())
        first.append(error[:, 0].mean().item())
        verdicts += [clips.adherence(clip.to(torch.uint8).numpy(), clips.make_scene(seed))
                     for clip, seed in zip(out, range(3_500_000 + 4 * i, 3_500_004 + 4 * i))]
    return {"mean_abs_error": float(np.mean(errors)),
            "first_frame_mean_abs_error": float(np.mean(first)),
            "color": float(np.mean([v["color"] for v in verdicts])),
            "direction": float(np.mean([v["direction"] for v in verdicts]))}


@torch.no_grad()
def latent_statistics(vae, video: torch.Tensor, batch: int, device):
    """Per-channel mean and std of the latents of uint8 clips `video`, encoded `batch` at a
    time."""
    sums = sums_sq = count = 0
    for part in video.split(batch):
        z = vae.encode(model_input(part, device)).latent_dist.mode().float()
        sums = sums + z.sum(dim=(0, 2, 3, 4))
        sums_sq = sums_sq + (z ** 2).sum(dim=(0, 2, 3, 4))
        count += z.numel() // z.shape[1]
    mean = sums / count
    std = (sums_sq / count - mean ** 2).clamp_min(1e-8).sqrt()
    return mean.cpu().tolist(), std.cpu().tolist()


@torch.no_grad()
def normalised_latents(vae, video, device) -> torch.Tensor:
    """uint8 clips [B, F, H, W, 3] as the transformer's bf16 latents, normalised with the VAE's
    latents_mean / latents_std as WanPipeline un-normalises them."""
    mean = torch.tensor(vae.config.latents_mean, device=device).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=device).view(1, -1, 1, 1, 1)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        z = vae.encode(model_input(video, device)).latent_dist.mode().float()
    return ((z - mean) / std).to(torch.bfloat16)


def flow_matching_loss(transformer, latents, text, sigma, noise, device) -> torch.Tensor:
    """The mean squared error of the predicted flow e - x0 at x_s = (1 - s) x0 + s e, for each
    sample's noise level s in `sigma` (timestep 1000 s, as the scheduler's)."""
    s = sigma.view(-1, 1, 1, 1, 1)
    noisy = (1 - s) * latents + s * noise
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        predicted = transformer(noisy, sigma * 1000, text, return_dict=False)[0]
    return ((predicted.float() - (noise - latents)) ** 2).mean()


def train_transformer(transformer, encoder, vae, tokenizer, stream: ClipStream, steps: int,
                      minutes: float, peak_rate: float, scale: Scale, device, log):
    """Flow matching on normalised latents for the noise levels the shifted sampler visits, the
    caption dropped for guidance; the text encoder trains with the transformer. `stream` gives
    groups of Scale.refresh_group clips."""
    parameters = list(transformer.parameters()) + list(encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=peak_rate, weight_decay=0.01)
    rate = LearningRate(peak=peak_rate, warmup=min(200, steps // 10 + 1), floor=0.0)
    generator = torch.Generator(device="cpu").manual_seed(1)
    watch = Stopwatch(device)

    # The pool, filled before training; then a ring whose oldest clips the new ones replace.
    pool, pool_captions = [], []
    while len(pool_captions) < scale.latent_pool:
        video, captions = stream.next(1)[0]
        pool.append(normalised_latents(vae, video, device))
        pool_captions += captions
    pool = torch.cat(pool)
    log(f"transformer: {len(pool_captions)} clips encoded into the latent pool")
    oldest = 0
    steps_per_group = max(1, scale.refresh_group // scale.transformer_refresh)

    def loss_of(step):
        nonlocal oldest
        if step % steps_per_group == steps_per_group - 1:
            with watch.part("data"):
                video, new_captions = stream.next(1)[0]
            with watch.part("encode"):
                slots = [(oldest + i) % len(pool_captions) for i in range(len(new_captions))]
                oldest = (oldest + len(new_captions)) % len(pool_captions)
                pool[slots] = normalised_latents(vae, video, device)
            for slot, caption in zip(slots, new_captions):
                pool_captions[slot] = caption
        chosen = torch.randint(0, len(pool_captions), (scale.transformer_batch,),
                               generator=generator)
        latents = pool[chosen.to(device)].float()
        drop = torch.rand(len(chosen), generator=generator) < CFG_DROPOUT
        captions = ["" if dropped else pool_captions[i]
                    for i, dropped in zip(chosen.tolist(), drop.tolist())]
        noise = torch.randn(latents.shape, generator=generator).to(device)
        u = torch.rand(latents.shape[0], generator=generator).to(device)
        sigma = FLOW_SHIFT * u / (1 + (FLOW_SHIFT - 1) * u)
        text = prompt_embeds(tokenizer, encoder, captions, scale.max_sequence_length, device)
        return flow_matching_loss(transformer, latents, text, sigma, noise, device)

    return fit("transformer", [transformer, encoder], optimizer, rate, steps, minutes, loss_of,
               watch, log)


@torch.no_grad()
def text_reliance(transformer, encoder, vae, tokenizer, renderer: Renderer, scale: Scale,
                  device):
    """The flow-matching loss on 32 held-out clips (seeds from 3,500,000, which neither training
    nor evaluate.py uses) at noise levels 0.3, 0.6 and 0.9, with each clip's own caption, with
    another clip's caption and with the empty prompt. A model that reads its prompt has "own"
    clearly below the other two; one that ignores it has the three equal."""
    video, captions = renderer.batch(scale, 3_500_000, 32)
    latents = torch.cat([normalised_latents(vae, part, device)
                         for part in video.split(8)]).float()
    generator = torch.Generator(device="cpu").manual_seed(3)
    prompts = {"own": captions, "other": captions[1:] + captions[:1], "empty": [""] * len(captions)}
    texts = {name: prompt_embeds(tokenizer, encoder, prompt, scale.max_sequence_length, device)
             for name, prompt in prompts.items()}
    result = {}
    for level in (0.3, 0.6, 0.9):
        noise = torch.randn(latents.shape, generator=generator).to(device)
        sigma = torch.full((len(captions),), level, device=device)
        result[str(level)] = {
            name: flow_matching_loss(transformer, latents, text, sigma, noise, device).item()
            for name, text in texts.items()}
    return result


def make_text_encoder(out, scale: Scale, seed: int, record, log):
    """Stages 1 and 2: the tokenizer, trained on the grammar's captions (and the empty negative
    prompt's "") and written to `out`, and a new umT5 encoder (transformers' initialisation, no
    dropout), which trains with the transformer."""
    corpus = caption_corpus(20000)
    with tempfile.TemporaryDirectory() as tmp:
        seeds = os.path.join(tmp, "seed_pieces.tsv")
        word_seed_pieces(corpus, seeds)
        spm_size, tokenizer = fixtures_text.train_tokenizer(
            os.path.join(out, "tokenizer"), EXTRA_IDS, corpus=corpus, vocab_size=120, pad_id=0,
            eos_id=1, unk_id=2, bos_id=-1, seed_sentencepieces_file=seeds, minloglevel=1)
    record["stages"]["tokenizer"] = {"pieces": spm_size, "corpus_captions": len(corpus)}
    log(f"tokenizer: {spm_size} pieces")
    config = UMT5Config(vocab_size=(spm_size + EXTRA_IDS + 15) // 16 * 16, d_model=scale.text_dim,
                        d_kv=scale.text_dim // 4, d_ff=2 * scale.text_dim, num_layers=2,
                        num_heads=4, relative_attention_num_buckets=32,
                        relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                        layer_norm_epsilon=1e-6, dropout_rate=0.0)
    torch.manual_seed(seed + 1)
    return tokenizer, UMT5EncoderModel(config).eval()


def new_vae(scale: Scale):
    return AutoencoderKLWan(base_dim=scale.vae_base_dim, z_dim=scale.z_dim, dim_mult=[1, 2, 4, 4],
                            num_res_blocks=1, attn_scales=[],
                            temperal_downsample=[False, True, True],
                            latents_mean=[0.0] * scale.z_dim, latents_std=[1.0] * scale.z_dim)


def vae_stage(vae, skipped: int, out, scale: Scale, renderer: Renderer, args, device, record,
              log):
    """Stage 3: `vae` trained further on clips from seed 1,000,000 + `skipped` (those an earlier
    run saw), then its latents' statistics; written to `out`."""
    stream = ClipStream(renderer, scale, scale.vae_batch, first_seed=1_000_000 + skipped,
                        crop=scale.vae_crop)
    record["stages"]["vae"] = train_vae(vae, stream, args.vae_steps, args.vae_minutes, device,
                                        log)
    record["stages"]["vae"]["clips_seen_end"] = stream.seed - 1_000_000
    # Whole clips, after the ones the training saw.
    video, _ = renderer.batch(scale, 1_500_000, 8 * scale.vae_batch)
    mean, std = latent_statistics(vae, video, scale.vae_batch, device)
    vae.register_to_config(latents_mean=mean, latents_std=std)
    vae.to(torch.float32).save_pretrained(os.path.join(out, "vae"), safe_serialization=True)
    check = reconstruction_check(vae, renderer, scale, device)
    record["stages"]["vae"]["reconstruction"] = check
    log(f"vae round trip of held-out clips: {check}")
    record["stages"]["vae"]["latents_mean"], record["stages"]["vae"]["latents_std"] = mean, std


def clips_seen(training_log, stage: str) -> int:
    """How many of `stage`'s training clips the model of `training_log` (a training_log.json,
    with the runs it continued under "init") has been through: the next run starts after them."""
    while training_log is not None:
        if stage in training_log["stages"]:
            return training_log["stages"][stage]["clips_seen_end"]
        training_log = training_log.get("init")
    return 0


def new_transformer(scale: Scale):
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=scale.heads, attention_head_dim=scale.head_dim,
        in_channels=scale.z_dim, out_channels=scale.z_dim, text_dim=scale.text_dim,
        freq_dim=64, ffn_dim=scale.ffn_dim, num_layers=scale.layers, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def clip_size(text: str):
    """HEIGHTxWIDTHxFRAMES (an argparse type): sizes the VAE and the patches divide (height and
    width multiples of 16, frames 4k + 1)."""
    try:
        height, width, frames = (int(n) for n in text.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HEIGHTxWIDTHxFRAMES")
    if height <= 0 or width <= 0 or height % 16 or width % 16 or frames < 1 or frames % 4 != 1:
        raise argparse.ArgumentTypeError(
            f"{text}: height and width must be positive multiples of 16, frames 4k + 1")
    return height, width, frames


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--vae_steps", type=int,
                        help="1500 by default; with --init, the VAE trains further only if given.")
    parser.add_argument("--transformer_steps", type=int, default=3000)
    parser.add_argument("--vae_minutes", type=float, default=float("inf"),
                        help="Stop the VAE's training after this long even if steps remain.")
    parser.add_argument("--transformer_minutes", type=float, default=float("inf"),
                        help="Stop the transformer's training after this long.")
    parser.add_argument("--transformer_clip", type=clip_size, metavar="HxWxF",
                        help="Train the transformer on clips of this size instead of the scale's, "
                        "e.g. a smaller one (fewer tokens per step) first, then --init at full "
                        "size (the model has no size of its own; its 3-D RoPE counts positions).")
    parser.add_argument("--transformer_batch", type=int,
                        help="Clips per transformer step (default: the scale's).")
    parser.add_argument("--latent_pool", type=int,
                        help="Encoded clips the transformer's batches are drawn from (default: "
                        "the scale's).")
    parser.add_argument("--transformer_rate", type=float, default=3e-4,
                        help="The transformer's and text encoder's peak learning rate.")
    parser.add_argument("--vae_batch", type=int, help="Crops per VAE step (default: the scale's).")
    parser.add_argument("--vae_crop", type=int,
                        help="The side of the VAE's square crops (default: the scale's).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--init", help="An earlier output folder to continue training from.")
    args = parser.parse_args(argv)
    if args.init and os.path.abspath(args.init) == os.path.abspath(args.out):
        parser.error("--init must name another folder than --out")
    if args.vae_steps is None:
        args.vae_steps = 0 if args.init else 1500
    scale = SCALES[args.scale]
    if args.vae_batch is not None:
        scale = dataclasses.replace(scale, vae_batch=args.vae_batch)
    if args.vae_crop is not None:
        scale = dataclasses.replace(scale, vae_crop=(args.vae_crop, args.vae_crop))
    transformer_scale = scale
    if args.transformer_clip is not None:
        height, width, frames = args.transformer_clip
        transformer_scale = dataclasses.replace(transformer_scale, height=height, width=width,
                                                frames=frames)
    if args.transformer_batch is not None:
        transformer_scale = dataclasses.replace(transformer_scale,
                                                transformer_batch=args.transformer_batch)
    if args.latent_pool is not None:
        transformer_scale = dataclasses.replace(transformer_scale, latent_pool=args.latent_pool)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    # The VAE's 3-D convolutions: let cuDNN pick the fastest algorithm for the fixed clip size.
    torch.backends.cudnn.benchmark = True
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    record = {"command": " ".join(sys.argv), "args": vars(args), "scale": dataclasses.asdict(scale),
              "transformer_scale": dataclasses.asdict(transformer_scale),
              "torch": torch.__version__, "device": str(device), "stages": {}}
    started = time.time()

    def log(message):
        print(f"[{time.time() - started:7.1f}s] {message}", flush=True)

    renderer = Renderer(args.workers)
    if args.init:
        with open(os.path.join(args.init, "training_log.json")) as f:
            record["init"] = json.load(f)
        shutil.copytree(os.path.join(args.init, "tokenizer"), os.path.join(out, "tokenizer"))
        tokenizer = transformers.AutoTokenizer.from_pretrained(os.path.join(out, "tokenizer"))
        encoder = UMT5EncoderModel.from_pretrained(os.path.join(args.init, "text_encoder"))
        vae = AutoencoderKLWan.from_pretrained(os.path.join(args.init, "vae")).to(device)
        if args.vae_steps:
            vae_stage(vae, clips_seen(record["init"], "vae"), out, scale, renderer, args, device,
                      record, log)
        else:
            shutil.copytree(os.path.join(args.init, "vae"), os.path.join(out, "vae"))
        transformer = WanTransformer3DModel.from_pretrained(os.path.join(args.init, "transformer"))
        # Clips after the ones the earlier run saw.
        first_seed = 2_000_000 + clips_seen(record["init"], "transformer")
    else:
        tokenizer, encoder = make_text_encoder(out, scale, args.seed, record, log)
        vae = new_vae(scale).to(device)
        vae_stage(vae, 0, out, scale, renderer, args, device, record, log)
        transformer = new_transformer(scale)
        first_seed = 2_000_000
    encoder, vae, transformer = encoder.to(device), vae.to(device), transformer.to(device)

    # 4. Transformer and text encoder.
    if args.transformer_steps:
        stream = ClipStream(renderer, transformer_scale, transformer_scale.refresh_group,
                            first_seed=first_seed)
        record["stages"]["transformer"] = train_transformer(
            transformer, encoder, vae, tokenizer, stream, args.transformer_steps,
            args.transformer_minutes, args.transformer_rate, transformer_scale, device, log)
        record["stages"]["transformer"]["clips_seen_end"] = stream.seed - 2_000_000
    transformer.save_pretrained(os.path.join(out, "transformer"), safe_serialization=True)
    encoder.save_pretrained(os.path.join(out, "text_encoder"), safe_serialization=True)
    reliance = text_reliance(transformer, encoder, vae, tokenizer, renderer, transformer_scale,
                             device)
    record["text_reliance"] = reliance
    log("held-out loss with the clip's own caption / another's / the empty one: " + ", ".join(
        f"noise {level}: {v['own']:.4f} / {v['other']:.4f} / {v['empty']:.4f}"
        for level, v in reliance.items()))

    # The Wan2.1 UniPC scheduler, and the pipeline's index.
    shutil.copytree(os.path.join(ROOT, "tests", "golden", "wan_tiny", "scheduler"),
                    os.path.join(out, "scheduler"))
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump({"_class_name": "WanPipeline", "_diffusers_version": "0.42.1",
                   "scheduler": ["diffusers", "UniPCMultistepScheduler"],
                   "text_encoder": ["transformers", "UMT5EncoderModel"],
                   "tokenizer": ["transformers", "T5Tokenizer"],
                   "transformer": ["diffusers", "WanTransformer3DModel"],
                   "vae": ["diffusers", "AutoencoderKLWan"]}, f, indent=2)
    record["seconds"] = time.time() - started
    with open(os.path.join(out, "training_log.json"), "w") as f:
        json.dump(record, f, indent=2)
    log(f"done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
