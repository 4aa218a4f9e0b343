"""Prompt adherence of a served model on held-out procedural prompts (issue 9).

    python3 tools/demo_model/evaluate.py --cli PATH/videogen --server HOST:PORT [--count 28]
        [--height 320] [--width 448] [--frames 17] [--steps 30] [--budget 1] [--json FILE]

Generates each prompt through the server's API (the C++ engine) with the `videogen` CLI, as raw
frames, and checks with tools/demo_data/clips.py's frame measure whether the main object's
colour is visible and moves in the stated direction. Prompts are the captions of scenes with
seeds from 3,000,000 on, which training (seeds below 3,000,000) never rendered. Chance levels:
a direction is one of four; a colour one of seven.
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


def generate(cli, server, caption, seed, args, path):
    command = [cli, f"--server={server}", "generate", f"--prompt={caption}",
               f"--height={args.height}", f"--width={args.width}", f"--frames={args.frames}",
               f"--steps={args.steps}", f"--seed={seed}", f"--budget={args.budget}",
               "--format=raw", f"--output={path}"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    data = np.fromfile(path, dtype=np.uint8)
    return data.reshape(args.frames, args.height, args.width, 3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--count", type=int, default=28)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.count):
            seed = FIRST_SEED + i
            scene = clips.make_scene(seed)
            video = generate(args.cli, args.server, scene.caption(), seed, args,
                             os.path.join(tmp, "video.raw"))
            verdict = clips.adherence(video, scene)
            results.append({"seed": seed, "caption": scene.caption(), **verdict})
            print(f"{i + 1}/{args.count} color {verdict['color']} direction "
                  f"{verdict['direction']}: {scene.caption()}", flush=True)
    summary = {
        "prompts": args.count,
        "color_accuracy": float(np.mean([r["color"] for r in results])),
        "direction_accuracy": float(np.mean([r["direction"] for r in results])),
        "chance": {"color": 1 / len(clips.OBJECT_COLORS), "direction": 1 / len(clips.DIRECTIONS)},
        "settings": {k: v for k, v in vars(args).items() if k not in ("cli", "json")},
        "results": results,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
