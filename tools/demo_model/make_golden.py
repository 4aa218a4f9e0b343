"""Records the Python reference's generation with a demo model folder, for the C++ engine's
parity test (issue 9): diffusers' WanPipeline on the CPU in float32, 4 guided steps at the demo
size from a held-out prompt, with the prompt embeddings, the initial noise, the latents after
every step and frames 0, 8 and 16 (tools/golden/fixtures_pipeline.py's record()).

    $(tools/golden/setup_venv.sh) tools/demo_model/make_golden.py --model DIR --out FILE
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "demo_data"))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
import clips  # noqa: E402
import fixtures_pipeline  # noqa: E402

SCENE_SEED = 3_000_000  # Held out from training (tools/demo_model/evaluate.py).
FRAMES = (0, 8, 16)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the demo model folder")
    parser.add_argument("--out", required=True, help="the safetensors file to write")
    args = parser.parse_args(argv)
    case = dict(prompt=clips.make_scene(SCENE_SEED).caption(), negative_prompt="", height=320,
                width=448, num_frames=17, num_inference_steps=4, guidance_scale=5.0,
                max_sequence_length=512)
    fixtures_pipeline.record(args.model, case, SCENE_SEED, args.out, frame_indices=FRAMES)
    print(f"wrote {args.out}: {case['prompt']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
