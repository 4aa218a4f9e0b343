"""Prompt adherence of the demo model on held-out procedural prompts (issue 9).

    python3 tools/demo_model/evaluate.py --cli PATH/videogen --server HOST:PORT [options]
    $(tools/golden/setup_venv.sh) tools/demo_model/evaluate.py --model DIR [--device cuda] [options]

    options: [--count 28] [--height 320] [--width 448] [--frames 17] [--steps 30]
             [--guidance_scale 5] [--budget 1] [--json FILE] [--strip PNG]

With --cli/--server each prompt is generated through the server's API (the C++ engine) by the
`videogen` CLI, as raw frames; with --model, by diffusers' WanPipeline (the Python reference,
budget 1 only). tools/demo_data/clips.py's frame measure then checks whether the main object's
colour is visible and whether it moves in the stated direction. Prompts are the captions of
scenes with seeds from 3,000,000 on, which training (seeds below 3,000,000) never rendered; the
same seed drives the generation's noise. Chance levels: a colour is one of seven, a direction
one of four. --strip writes frames 0, 4, 8, ... of the first four prompts' videos as one PNG,
a row per prompt.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "demo_data"))
import clips  # noqa: E402

FIRST_SEED = 3_000_000
STRIP_ROWS = 4


class Served:
    """Generates through a running server with the `videogen` CLI."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.TemporaryDirectory()

    def __call__(self, caption: str, seed: int) -> np.ndarray:
        a = self.args
        path = os.path.join(self.tmp.name, "video.raw")
        command = [a.cli, f"--server={a.server}", "generate", f"--prompt={caption}",
                   f"--height={a.height}", f"--width={a.width}", f"--frames={a.frames}",
                   f"--steps={a.steps}", f"--seed={seed}", f"--budget={a.budget}",
                   f"--guidance_scale={a.guidance_scale}", "--format=raw", f"--output={path}"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return np.fromfile(path, dtype=np.uint8).reshape(a.frames, a.height, a.width, 3)


class Reference:
    """Generates with diffusers' WanPipeline from the model folder, in float32."""

    def __init__(self, args):
        import torch
        from diffusers import WanPipeline
        self.torch, self.args = torch, args
        self.pipe = WanPipeline.from_pretrained(args.model, torch_dtype=torch.float32)
        self.pipe.to(args.device)
        self.pipe.set_progress_bar_config(disable=True)

    def __call__(self, caption: str, seed: int) -> np.ndarray:
        a = self.args
        with self.torch.no_grad():
            video = self.pipe(prompt=caption, negative_prompt="", height=a.height, width=a.width,
                              num_frames=a.frames, num_inference_steps=a.steps,
                              guidance_scale=a.guidance_scale,
                              generator=self.torch.Generator().manual_seed(seed),
                              output_type="np").frames[0]
        return (video * 255).round().astype(np.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--server", help="HOST:PORT of a running videogen_server (with --cli)")
    source.add_argument("--model", help="a diffusers-format model folder (the Python reference)")
    parser.add_argument("--cli", help="the videogen CLI binary (with --server)")
    parser.add_argument("--device", default="cpu", help="torch device (with --model)")
    parser.add_argument("--count", type=int, default=28)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance_scale", type=float, default=5.0)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--json")
    parser.add_argument("--strip", help="a PNG of the first four videos' frames, a row each")
    args = parser.parse_args(argv)
    if args.server and not args.cli:
        parser.error("--server needs --cli")
    if args.model and args.budget != 1.0:
        parser.error("the reference (--model) is dense: --budget must be 1")
    generate = Served(args) if args.server else Reference(args)
    results, rows = [], []
    for i in range(args.count):
        seed = FIRST_SEED + i
        scene = clips.make_scene(seed)
        video = generate(scene.caption(), seed)
        if i < STRIP_ROWS:
            rows.append(np.concatenate(list(video[::4]), axis=1))
        verdict = clips.adherence(video, scene)
        results.append({"seed": seed, "caption": scene.caption(), **verdict})
        print(f"{i + 1}/{args.count} color {verdict['color']} direction "
              f"{verdict['direction']}: {scene.caption()}", flush=True)
    summary = {
        "source": "reference (diffusers)" if args.model else "served (C++ engine)",
        "prompts": args.count,
        "color_accuracy": float(np.mean([r["color"] for r in results])),
        "direction_accuracy": float(np.mean([r["direction"] for r in results])),
        "chance": {"color": 1 / len(clips.OBJECT_COLORS), "direction": 1 / len(clips.DIRECTIONS)},
        "settings": {k: v for k, v in vars(args).items() if k not in ("cli", "json", "strip")},
        "results": results,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    if args.strip:
        from PIL import Image
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.strip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
