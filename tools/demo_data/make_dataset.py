"""Renders a dataset of procedural clips (clips.py) for training the demo model.

    python3 tools/demo_data/make_dataset.py --out DIR --count N [--first_seed S]
        [--frames 17] [--height 320] [--width 448]

Writes DIR/clips.npy (uint8 [N, frames, height, width, 3], memory-mappable) and
DIR/captions.jsonl (one line per clip: its seed, caption and scene). Clip i is clip
`first_seed + i`, so datasets are reproducible and disjoint seed ranges give disjoint sets.
"""

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clips  # noqa: E402


def write_dataset(out: str, count: int, first_seed: int, frames: int, height: int,
                  width: int) -> None:
    os.makedirs(out, exist_ok=True)
    videos = np.lib.format.open_memmap(os.path.join(out, "clips.npy"), mode="w+", dtype=np.uint8,
                                       shape=(count, frames, height, width, 3))
    with open(os.path.join(out, "captions.jsonl"), "w") as captions:
        for i in range(count):
            seed = first_seed + i
            video, caption, scene = clips.make_clip(seed, frames, height, width)
            videos[i] = video
            captions.write(json.dumps({"seed": seed, "caption": caption,
                                       "scene": dataclasses.asdict(scene)}) + "\n")
    videos.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--first_seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=448)
    args = parser.parse_args(argv)
    if args.count < 1 or min(args.frames, args.height, args.width) < 1:
        parser.error("--count, --frames, --height and --width must be positive")
    write_dataset(args.out, args.count, args.first_seed, args.frames, args.height, args.width)
    return 0


if __name__ == "__main__":
    sys.exit(main())
