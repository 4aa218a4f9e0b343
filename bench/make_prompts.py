"""Writes a prompt set for bench/acceleration_compare: the captions of held-out demo scenes.

    python3 bench/make_prompts.py --count 16 --out prompts.jsonl [--first_seed 3000000]

One JSON object per line, {"prompt", "seed", "scene_seed"}: scene seeds from 3,000,000 on, which
the demo model's training never rendered (tools/demo_model/evaluate.py uses the same ones), and
the scene seed also as the noise seed.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tools", "demo_data"))
import clips  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--first_seed", type=int, default=3_000_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.out, "w") as f:
        for seed in range(args.first_seed, args.first_seed + args.count):
            line = {"prompt": clips.make_scene(seed).caption(), "seed": seed, "scene_seed": seed}
            f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
