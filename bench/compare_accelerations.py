"""Compares a run of the acceleration benchmark's methods with dense generation (Table 1).

The seed paper's Table 1 for the engine: PSNR and SSIM of each method's videos against the dense
videos, prompt adherence, FLOPs, latency, speedup and peak memory.

    python3 bench/compare_accelerations.py --results DIR --out PREFIX

DIR is what the benchmark writes: results.json (device, date, command, model, settings, the
prompts, and per method its family, spec, per-prompt latency and denoising time, peak memory and
transformer FLOPs) and DIR/<method dir>/<prompt index>.raw, each video as uint8 RGB frames
[frames, height, width, 3]. The method named "dense" is the reference. Written:

    PREFIX.json  every number, per prompt and per method;
    PREFIX.md    the table (also printed), sorted by family then latency speedup, under a header
                 with the run's device, date, command and settings;
    PREFIX.png   PSNR against dense (y) over the measured latency speedup (x), one line per
                 family (dense, the reference, is the vertical line at 1x).

Metrics (the seed's appendix A.2 computes PSNR and SSIM with skimage.metrics):
    PSNR       per video, 10 log10(255^2 / MSE) over all frames and channels
               (peak_signal_noise_ratio); a method's PSNR is the mean of its finite per-video
               values. A video identical to dense has infinite PSNR: null in the JSON, counted
               apart in the table ("+k ∞"); a method with only such videos is plotted at
               PSNR_PLOT_CAP_DB (60 dB).
    SSIM       structural_similarity's defaults per frame with channel_axis: 7x7 uniform window,
               K1 = 0.01, K2 = 0.03, data range 255, sample covariance, the mean over the windows
               inside the frame (skimage crops the 3-pixel border); averaged over channels,
               frames and prompts. Window sums are exact integer sums of the pixels.
    adherence  for prompts with a scene_seed, tools/demo_data/clips.py's check that the video
               shows the scene's main-object colour and that it moves in the stated direction:
               the percentage of those prompts that pass. (clips.measure holds a float32
               [frames, pixels, 19, 3] array: meant for the demo model's small videos.)
    FLOPs      the benchmark's count of transformer FLOPs per video (the seed's A.3 model);
               FLOPs speedup = dense_flops / flops.
    latency    end-to-end seconds per video, the mean over prompts; speedup = dense's mean over
               the method's.

Only numpy is needed: the plot is drawn into an array (a 5x7 bitmap font, lines rasterised by
sampling) and encoded as PNG with zlib.
"""

import argparse
import itertools
import json
import math
import os
import struct
import sys
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tools", "demo_data"))
import clips  # noqa: E402

REFERENCE = "dense"
# Table order of the families; any other family follows, alphabetically.
FAMILIES = ("dense", "astraea", "astraea-schedule", "astraea-registry", "fixed-token",
            "timestep-level", "pab", "toca", "delta_dit", "teacache")
PEAK = 255.0
SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03
PSNR_PLOT_CAP_DB = 60.0
GIB = float(2 ** 30)

NOTES = {
    "psnr_db": "per video 10*log10(255^2/MSE) over all frames and channels; per method the mean "
               "of the finite per-video values (null: identical to dense, infinite PSNR)",
    "ssim": "skimage structural_similarity defaults per frame (7x7 uniform window, K1=0.01, "
            "K2=0.03, data range 255, sample covariance, border-cropped mean), averaged over "
            "channels, frames and prompts",
    "adherence": "fraction of the prompts with a scene_seed whose video shows the scene's main "
                 "colour / its direction (tools/demo_data/clips.py adherence)",
    "flops_speedup": "dense_flops / flops (transformer FLOPs per video, the seed's A.3 model)",
    "latency_speedup": "dense's mean end-to-end latency / the method's",
}


# Inputs.

def load_results(directory: str) -> dict:
    """results.json of a benchmark run, checked for what the comparison relies on."""
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    names = [method["name"] for method in results["methods"]]
    if len(set(names)) != len(names):
        raise ValueError(f"method names are not unique: {names}")
    if REFERENCE not in names:
        raise ValueError(f'no method named "{REFERENCE}", the reference')
    count = len(results["prompts"])
    if count == 0:
        raise ValueError("results.json has no prompts")
    for method in results["methods"]:
        for key in ("latency_s", "denoise_s"):
            if len(method[key]) != count:
                raise ValueError(f"{method['name']}: {len(method[key])} {key} values for "
                                 f"{count} prompts")
    return results


def read_video(path: str, settings: dict) -> np.ndarray:
    """The uint8 frames [frames, height, width, 3] in the raw file `path`."""
    shape = (settings["frames"], settings["height"], settings["width"], 3)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size != math.prod(shape):
        raise ValueError(f"{path}: {data.size} bytes, expected {math.prod(shape)} "
                         f"(frames, height, width, 3) = {shape}")
    return data.reshape(shape)


# Metrics.

def _check_pair(video: np.ndarray, reference: np.ndarray) -> None:
    if video.shape != reference.shape or video.dtype != np.uint8 or reference.dtype != np.uint8:
        raise ValueError(f"need two uint8 videos of one shape, got {video.dtype}{video.shape} "
                         f"and {reference.dtype}{reference.shape}")


def psnr(video: np.ndarray, reference: np.ndarray) -> float:
    """PSNR (dB) of uint8 `video` against `reference`, over all values; inf if identical."""
    _check_pair(video, reference)
    # Frame by frame, so that the int64 differences stay small.
    squared = sum(int(np.square(a.astype(np.int64) - b).sum())
                  for a, b in zip(video, reference))
    if squared == 0:
        return math.inf
    return 10.0 * math.log10(PEAK ** 2 * video.size / squared)


def _window_sums(values: np.ndarray) -> np.ndarray:
    """Sums of int64 `values` [height, width, channels] over every SSIM window inside the frame,
    [height - 6, width - 6, channels], from an integral image (exact)."""
    k = SSIM_WINDOW
    height, width = values.shape[:2]
    integral = np.zeros((height + 1, width + 1) + values.shape[2:], np.int64)
    np.cumsum(np.cumsum(values, axis=0), axis=1, out=integral[1:, 1:])
    return integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k]


def frame_ssim(frame: np.ndarray, reference: np.ndarray) -> float:
    """skimage.metrics.structural_similarity(frame, reference, channel_axis=-1) of two uint8
    frames [height, width, channels]."""
    _check_pair(frame, reference)
    if min(frame.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"frames of {frame.shape[:2]} are smaller than the SSIM window "
                         f"({SSIM_WINDOW})")
    x, y = frame.astype(np.int64), reference.astype(np.int64)
    n = SSIM_WINDOW ** 2
    sx, sy = _window_sums(x), _window_sums(y)
    # n * (sum of squares) - sum^2 is n * (n - 1) times the sample (co)variance, in integers.
    norm = float(n * (n - 1))
    vx = (n * _window_sums(x * x) - sx * sx) / norm
    vy = (n * _window_sums(y * y) - sy * sy) / norm
    vxy = (n * _window_sums(x * y) - sx * sy) / norm
    mx, my = sx / n, sy / n
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    ssim = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    # Every channel has as many windows: the mean over all is the mean of the channels' means.
    return float(ssim.mean())


def video_ssim(video: np.ndarray, reference: np.ndarray) -> float:
    """The mean SSIM of the frames of two uint8 videos [frames, height, width, channels]."""
    _check_pair(video, reference)
    return float(np.mean([frame_ssim(a, b) for a, b in zip(video, reference)]))


# The comparison.

def _mean(values: Sequence[float]) -> Optional[float]:
    return float(np.mean(values)) if len(values) else None


def _ratio(numerator: float, denominator: float) -> Optional[float]:
    """numerator / denominator, or None for a zero denominator (e.g. denoising not timed)."""
    return numerator / denominator if denominator else None


def _dense(results: dict) -> dict:
    return next(method for method in results["methods"] if method["name"] == REFERENCE)


def _family_rank(family: str) -> Tuple[int, str]:
    return (FAMILIES.index(family) if family in FAMILIES else len(FAMILIES), family)


def measure_videos(directory: str, results: dict) -> Dict[str, List[dict]]:
    """Per method name, per prompt: PSNR (None if identical), SSIM and, for prompts with a
    scene_seed, adherence, each method's video against dense's. Without saved frames
    (results["frames_saved"] false) every row is empty."""
    methods, dense = results["methods"], _dense(results)
    if not results.get("frames_saved", True):
        return {method["name"]: [{"index": p["index"]} for p in results["prompts"]]
                for method in methods}
    path = lambda method, prompt: os.path.join(directory, method["dir"], f"{prompt['index']}.raw")
    rows = {method["name"]: [] for method in methods}
    for i, prompt in enumerate(results["prompts"]):
        print(f"prompt {i + 1}/{len(results['prompts'])}", file=sys.stderr, flush=True)
        reference = read_video(path(dense, prompt), results["settings"])
        seed = prompt.get("scene_seed")
        scene = clips.make_scene(seed) if seed is not None else None
        for method in methods:
            video = (reference if method is dense
                     else read_video(path(method, prompt), results["settings"]))
            value = psnr(video, reference)
            row = {"index": prompt["index"], "psnr_db": value if math.isfinite(value) else None,
                   "ssim": video_ssim(video, reference)}
            if scene is not None:
                row["adherence"] = clips.adherence(video, scene)
            rows[method["name"]].append(row)
    return rows


def summarise(method: dict, rows: List[dict], dense: dict) -> dict:
    """Everything reported for `method`: its per-prompt rows and their means, FLOPs, latency and
    memory, with speedups against `dense`."""
    rows = [dict(row, latency_s=latency, denoise_s=denoise)
            for row, latency, denoise in zip(rows, method["latency_s"], method["denoise_s"])]
    measured = [row for row in rows if "ssim" in row]
    finite = [row["psnr_db"] for row in measured if row["psnr_db"] is not None]
    verdicts = [row["adherence"] for row in rows if "adherence" in row]
    adherence = None
    if verdicts:
        adherence = {"prompts": len(verdicts),
                     "color": _mean([v["color"] for v in verdicts]),
                     "direction": _mean([v["direction"] for v in verdicts])}
    latency, denoise = _mean(method["latency_s"]), _mean(method["denoise_s"])
    return {
        "name": method["name"], "family": method["family"], "spec": method["spec"],
        "dir": method["dir"],
        "quality_measured": bool(measured),
        "psnr_db": _mean(finite), "identical_videos": len(measured) - len(finite),
        "ssim": _mean([row["ssim"] for row in measured]),
        "adherence": adherence,
        "flops": method["flops"], "dense_flops": method["dense_flops"],
        "tflops": method["flops"] / 1e12,
        "flops_speedup": method["dense_flops"] / method["flops"],
        "latency_s": latency, "latency_speedup": _mean(dense["latency_s"]) / latency,
        "denoise_s": denoise, "denoise_speedup": _ratio(_mean(dense["denoise_s"]), denoise),
        "peak_memory_bytes": method["peak_memory_bytes"],
        "peak_memory_gib": method["peak_memory_bytes"] / GIB,
        "per_prompt": rows,
    }


def build_report(directory: str, results: dict) -> dict:
    """The comparison: the run's metadata and every method's summary, in table order."""
    rows = measure_videos(directory, results)
    methods = [summarise(method, rows[method["name"]], _dense(results))
               for method in results["methods"]]
    methods.sort(key=lambda m: (_family_rank(m["family"]), m["latency_speedup"]))
    return {
        "results": os.path.abspath(directory),
        **{key: results[key] for key in ("device", "date", "command", "model", "settings",
                                         "prompts")},
        "reference": REFERENCE,
        "notes": NOTES,
        "methods": methods,
    }


# The table.

def _spec_cell(spec: str) -> str:
    """A policy's settings as they are; a schedule (comma-separated θ) as its budget."""
    try:
        thetas = [float(theta) for theta in spec.split(",")]
    except ValueError:
        return f"`{spec}`"
    if len(set(thetas)) == 1:
        return f"θ = {thetas[0]:g} at all {len(thetas)} steps"
    return f"schedule, mean θ = {sum(thetas) / len(thetas):.2f} over {len(thetas)} steps"


def _psnr_cell(method: dict) -> str:
    if not method["quality_measured"]:
        return "—"
    if method["psnr_db"] is None:
        return "∞"
    identical = method["identical_videos"]
    return f"{method['psnr_db']:.2f}" + (f" (+{identical} ∞)" if identical else "")


def markdown(report: dict) -> str:
    """The table with its header (run, settings, command) and notes on the metrics."""
    s = report["settings"]
    scenes = sum(prompt.get("scene_seed") is not None for prompt in report["prompts"])
    if not any(m["quality_measured"] for m in report["methods"]):
        scenes = 0  # No frames: speed only.
    lines = [
        f"# Accelerations against dense generation: {report['model']} ({report['date']})",
        "",
        f"Device: {report['device']}. {s['height']}×{s['width']}, {s['frames']} frames, "
        f"{s['steps']} steps, guidance scale {s['guidance_scale']}, {s['dtype']}; "
        f"{len(report['prompts'])} prompts ({scenes} with a scene for adherence).",
        "",
        "```sh",
        report["command"],
        "```",
        "",
    ]
    header = ["method", "family", "settings", "PSNR (dB) ↑", "SSIM ↑"]
    if scenes:
        header += ["colour (%) ↑", "direction (%) ↑"]
    header += ["TFLOPs ↓", "FLOPs speedup", "latency (s) ↓", "speedup", "peak memory (GiB) ↓"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for m in report["methods"]:
        ssim = f"{m['ssim']:.4f}" if m["quality_measured"] else "—"
        name = m["name"] if len(m["name"]) <= 40 else m["name"][:37] + "..."
        cells = [name, m["family"], _spec_cell(m["spec"]), _psnr_cell(m), ssim]
        if scenes:
            cells += [f"{100 * m['adherence'][key]:.0f}" for key in ("color", "direction")]
        cells += [f"{m['tflops']:.1f}", f"{m['flops_speedup']:.2f}×", f"{m['latency_s']:.2f}",
                  f"{m['latency_speedup']:.2f}×", f"{m['peak_memory_gib']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"PSNR: {NOTES['psnr_db']}; \"+k ∞\": k videos identical to dense, left out of the mean.",
        f"SSIM: {NOTES['ssim']}.",
    ]
    if scenes:
        lines.append(f"Adherence: {NOTES['adherence']}; chance is "
                     f"{100 / len(clips.OBJECT_COLORS):.0f} % (colour) and "
                     f"{100 / len(clips.DIRECTIONS):.0f} % (direction).")
    lines += [
        f"FLOPs speedup: {NOTES['flops_speedup']}. Latency: end-to-end seconds per video, mean "
        f"over prompts; speedup: {NOTES['latency_speedup']}. Peak memory: the benchmark's peak "
        "GPU memory, GiB = 2^30 bytes.",
        "",
    ]
    return "\n".join(lines)


# The plot: a 5x7 bitmap font, rows top to bottom, bit 4 the leftmost pixel. Lower case is drawn
# as upper case; other characters as '?'.
FONT = {
    " ": (0, 0, 0, 0, 0, 0, 0),
    "0": (14, 17, 19, 21, 25, 17, 14), "1": (4, 12, 4, 4, 4, 4, 14),
    "2": (14, 17, 1, 2, 4, 8, 31), "3": (31, 2, 4, 2, 1, 17, 14),
    "4": (2, 6, 10, 18, 31, 2, 2), "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14), "7": (31, 1, 2, 4, 8, 8, 8),
    "8": (14, 17, 17, 14, 17, 17, 14), "9": (14, 17, 17, 15, 1, 2, 12),
    "A": (14, 17, 17, 17, 31, 17, 17), "B": (30, 17, 17, 30, 17, 17, 30),
    "C": (14, 17, 16, 16, 16, 17, 14), "D": (28, 18, 17, 17, 17, 18, 28),
    "E": (31, 16, 16, 30, 16, 16, 31), "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15), "H": (17, 17, 17, 31, 17, 17, 17),
    "I": (14, 4, 4, 4, 4, 4, 14), "J": (7, 2, 2, 2, 2, 18, 12),
    "K": (17, 18, 20, 24, 20, 18, 17), "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17), "N": (17, 17, 25, 21, 19, 17, 17),
    "O": (14, 17, 17, 17, 17, 17, 14), "P": (30, 17, 17, 30, 16, 16, 16),
    "Q": (14, 17, 17, 17, 21, 18, 13), "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30), "T": (31, 4, 4, 4, 4, 4, 4),
    "U": (17, 17, 17, 17, 17, 17, 14), "V": (17, 17, 17, 17, 17, 10, 4),
    "W": (17, 17, 17, 21, 21, 21, 10), "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 17, 10, 4, 4, 4), "Z": (31, 1, 2, 4, 8, 16, 31),
    ".": (0, 0, 0, 0, 0, 12, 12), ",": (0, 0, 0, 0, 12, 4, 8),
    ":": (0, 12, 12, 0, 12, 12, 0), "-": (0, 0, 0, 31, 0, 0, 0),
    "_": (0, 0, 0, 0, 0, 0, 31), "=": (0, 0, 31, 0, 31, 0, 0),
    "+": (0, 4, 4, 31, 4, 4, 0), "/": (0, 1, 2, 4, 8, 16, 0),
    "(": (2, 4, 8, 8, 8, 4, 2), ")": (8, 4, 2, 2, 2, 4, 8),
    "[": (14, 8, 8, 8, 8, 8, 14), "]": (14, 2, 2, 2, 2, 2, 14),
    "%": (24, 25, 2, 4, 8, 19, 3), "?": (14, 17, 1, 2, 4, 0, 4),
}
WHITE, BLACK, GRID, DENSE_GREY = (255, 255, 255), (30, 30, 30), (225, 225, 225), (150, 150, 150)
# ASTRAEA in red and thicker; the baselines in the other colours, in table order.
ASTRAEA_COLOR = (214, 39, 40)
COLORS = ((31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (23, 190, 207), (188, 189, 34), (127, 127, 127))
MARKERS = ("circle", "square", "triangle", "diamond")
PLOT_WIDTH, PLOT_HEIGHT = 960, 600
AREA = (100, 80, 690, 520)  # Axes' left, top, right, bottom in pixels.


def _text_mask(text: str, scale: int) -> np.ndarray:
    """The pixels of `text` in the bitmap font, [7 * scale, (6 * len - 1) * scale] booleans."""
    mask = np.zeros((7, max(6 * len(text) - 1, 0)), bool)
    for i, char in enumerate(text.upper()):
        rows = FONT.get(char, FONT["?"])
        mask[:, 6 * i:6 * i + 5] = [[bool(row >> (4 - bit) & 1) for bit in range(5)]
                                    for row in rows]
    return np.kron(mask, np.ones((scale, scale), bool)).astype(bool)


def _paint(image: np.ndarray, mask: np.ndarray, top: int, left: int, color) -> None:
    """Sets the pixels of `mask` placed at (top, left), clipped to `image`."""
    height, width = image.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + mask.shape[0], height), min(left + mask.shape[1], width)
    if y0 < y1 and x0 < x1:
        image[y0:y1, x0:x1][mask[y0 - top:y1 - top, x0 - left:x1 - left]] = color


def _draw_text(image: np.ndarray, text: str, x: int, y: int, color=BLACK, scale: int = 2,
               align: str = "left", vertical: bool = False) -> None:
    """Text with its top at `y` and its left, centre or right (`align`) at `x`; vertical text
    reads upwards and is centred on (x, y)."""
    mask = _text_mask(text, scale)
    if vertical:
        mask = np.rot90(mask)
        _paint(image, mask, y - mask.shape[0] // 2, x - mask.shape[1] // 2, color)
        return
    offset = {"left": 0, "center": mask.shape[1] // 2, "right": mask.shape[1]}[align]
    _paint(image, mask, y, x - offset, color)


def _draw_line(image: np.ndarray, start, end, color, width: int = 1, dash: int = 0) -> None:
    """A line from `start` to `end` ((x, y) pixels), `width` thick, dashed every `dash` pixels."""
    (x0, y0), (x1, y1) = start, end
    count = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.rint(np.linspace(x0, x1, count)).astype(int)
    ys = np.rint(np.linspace(y0, y1, count)).astype(int)
    if dash:
        keep = (np.arange(count) // dash) % 2 == 0
        xs, ys = xs[keep], ys[keep]
    square = np.ones((width, width), bool)
    for x, y in zip(xs, ys):
        _paint(image, square, y - width // 2, x - width // 2, color)


def _marker_mask(shape: str, radius: int) -> np.ndarray:
    v, u = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    if shape == "circle":
        return u * u + v * v <= radius * radius + radius
    if shape == "square":
        return np.ones_like(u, bool)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= radius
    return (v <= radius) & (2 * np.abs(u) <= v + radius)  # triangle, point up


def _draw_marker(image: np.ndarray, center, color, shape: str, radius: int = 6) -> None:
    """A filled marker with a white rim, so that overlapping markers stay apart."""
    x, y = int(round(center[0])), int(round(center[1]))
    for r, c in ((radius + 2, WHITE), (radius, color)):
        _paint(image, _marker_mask(shape, r), y - r, x - r, c)


def _ticks(low: float, high: float, target: int = 6) -> Tuple[List[float], int]:
    """About `target` round tick values (1, 2 or 5 times a power of ten apart) within
    [low, high], and the decimals their labels need."""
    raw = (high - low) / max(target - 1, 1)
    power = math.floor(math.log10(raw))
    step = min((m * 10.0 ** power for m in (1, 2, 5, 10)),
               key=lambda candidate: abs(math.log(candidate / raw)))
    first = math.ceil(low / step - 1e-9)
    ticks = [i * step for i in range(first, math.floor(high / step + 1e-9) + 1)]
    return ticks, max(0, -math.floor(math.log10(step) + 1e-9))


def _axis_range(values: Sequence[float], minimum_span: float) -> Tuple[float, float]:
    """[low, high] around `values`, with a margin of 8 % on each side."""
    low, high = min(values), max(values)
    if high - low < minimum_span:
        middle = (low + high) / 2
        low, high = middle - minimum_span / 2, middle + minimum_span / 2
    margin = 0.08 * (high - low)
    return low - margin, high + margin


def _series(report: dict) -> List[Tuple[str, List[Tuple[float, float]]]]:
    """Per family but dense, its (latency speedup, PSNR capped) points in speedup order."""
    families: Dict[str, List[Tuple[float, float]]] = {}
    for m in report["methods"]:
        if m["family"] != REFERENCE:
            quality = min(m["psnr_db"] if m["psnr_db"] is not None else math.inf,
                          PSNR_PLOT_CAP_DB)
            families.setdefault(m["family"], []).append((m["latency_speedup"], quality))
    return [(family, sorted(points)) for family, points in families.items()]


def _fit(text: str, pixels: int, scale: int) -> str:
    """`text`, shortened with '..' to fit `pixels` at `scale`."""
    chars = (pixels + scale) // (6 * scale)
    return text if len(text) <= chars else text[:max(chars - 2, 0)] + ".."


def _draw_axes(image, report, x_range, y_range):
    """Grid, tick labels, axis labels and titles; returns data -> pixel mapping."""
    left, top, right, bottom = AREA
    to_x = lambda x: left + (x - x_range[0]) / (x_range[1] - x_range[0]) * (right - left)
    to_y = lambda y: bottom - (y - y_range[0]) / (y_range[1] - y_range[0]) * (bottom - top)
    x_ticks, x_decimals = _ticks(*x_range)
    y_ticks, y_decimals = _ticks(*y_range)
    for tick in x_ticks:
        _draw_line(image, (to_x(tick), top), (to_x(tick), bottom), GRID)
        _draw_text(image, f"{tick:.{x_decimals}f}", int(to_x(tick)), bottom + 8, align="center")
    for tick in y_ticks:
        _draw_line(image, (left, to_y(tick)), (right, to_y(tick)), GRID)
        _draw_text(image, f"{tick:.{y_decimals}f}", left - 8, int(to_y(tick)) - 7,
                   align="right")
    for start, end in (((left, top), (left, bottom)), ((left, bottom), (right, bottom)),
                       ((right, top), (right, bottom)), ((left, top), (right, top))):
        _draw_line(image, start, end, BLACK, width=2)
    _draw_text(image, "LATENCY SPEEDUP OVER DENSE (X)", (left + right) // 2, bottom + 34,
               align="center")
    _draw_text(image, "PSNR AGAINST DENSE (DB)", 24, (top + bottom) // 2, vertical=True)
    s = report["settings"]
    _draw_text(image, "QUALITY AGAINST SPEED OF THE ACCELERATIONS", PLOT_WIDTH // 2, 14,
               align="center")
    subtitle = (f"{report['model']}, {report['device']}, {report['date']}: {s['height']}x"
                f"{s['width']}, {s['frames']} frames, {s['steps']} steps")
    _draw_text(image, _fit(subtitle, PLOT_WIDTH - 40, 1), PLOT_WIDTH // 2, 42, scale=1,
               align="center")
    return to_x, to_y


def _draw_legend(image, styles, capped: bool) -> None:
    x, y = AREA[2] + 24, AREA[1]
    for family, (color, marker, width) in styles.items():
        _draw_line(image, (x, y + 7), (x + 36, y + 7), color, width=width)
        _draw_marker(image, (x + 18, y + 7), color, marker)
        _draw_text(image, _fit(family, PLOT_WIDTH - x - 54, 2), x + 46, y)
        y += 28
    _draw_line(image, (x, y + 7), (x + 36, y + 7), DENSE_GREY, dash=4)
    _draw_text(image, "DENSE (1X)", x + 46, y)
    if capped:
        _draw_text(image, f"PSNR CAPPED AT {PSNR_PLOT_CAP_DB:.0f} DB", x, y + 34, scale=1)
        _draw_text(image, "(IDENTICAL TO DENSE)", x, y + 46, scale=1)


def plot(report: dict) -> np.ndarray:
    """PSNR against dense over latency speedup, one line and marker style per family, as RGB
    uint8 [PLOT_HEIGHT, PLOT_WIDTH, 3]."""
    image = np.full((PLOT_HEIGHT, PLOT_WIDTH, 3), WHITE, np.uint8)
    series = _series(report)
    points = [point for _, family_points in series for point in family_points]
    x_range = _axis_range([1.0] + [x for x, _ in points], 0.5)
    y_range = _axis_range([y for _, y in points] or [20.0, 40.0], 2.0)
    to_x, to_y = _draw_axes(image, report, x_range, y_range)
    _draw_line(image, (to_x(1.0), AREA[1]), (to_x(1.0), AREA[3]), DENSE_GREY, dash=4)
    styles, baselines = {}, itertools.cycle(COLORS)
    for i, (family, _) in enumerate(series):
        astraea = family == "astraea"
        styles[family] = (ASTRAEA_COLOR if astraea else next(baselines),
                          MARKERS[i % len(MARKERS)], 3 if astraea else 2)
    for family, family_points in series:
        color, marker, width = styles[family]
        pixels = [(to_x(x), to_y(y)) for x, y in family_points]
        for start, end in zip(pixels, pixels[1:]):
            _draw_line(image, start, end, color, width=width)
        for pixel in pixels:
            _draw_marker(image, pixel, color, marker)
    _draw_legend(image, styles, capped=any(y >= PSNR_PLOT_CAP_DB for _, y in points))
    return image


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 image [height, width, 3] (8-bit truecolour, no filtering)."""
    height, width, _ = image.shape
    scanlines = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 9))
            + chunk(b"IEND", b""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="the benchmark's output directory")
    parser.add_argument("--out", required=True,
                        help="output prefix: writes PREFIX.json, PREFIX.md and PREFIX.png (the "
                             "plot only when the frames were saved)")
    args = parser.parse_args(argv)
    results = load_results(args.results)
    report = build_report(args.results, results)
    table = markdown(report)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(report, f, indent=2, allow_nan=False)
    with open(args.out + ".md", "w") as f:
        f.write(table)
    if any(m["quality_measured"] for m in report["methods"]):
        with open(args.out + ".png", "wb") as f:
            f.write(encode_png(plot(report)))
    else:
        print("no frames were saved: speed only, no plot", file=sys.stderr)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
