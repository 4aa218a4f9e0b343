#!/usr/bin/env bash
# The whole acceleration comparison on one model (issue 10), in one command:
#
#   bench/run_comparison.sh --model DIR --out DIR [--device cuda] [--dtype bfloat16]
#       [--height 320] [--width 448] [--frames 17] [--steps 30] [--prompts FILE]
#       [--calibration_prompts 4] [--registry FILE] [--bundle] [--python PATH] [--keep_frames]
#
# 1. TeaCache is calibrated on the first --calibration_prompts prompts (teacache_calibrate);
# 2. every prompt is generated with every method below (acceleration_compare);
# 3. the videos are scored against dense and tabulated (compare_accelerations.py):
#    OUT/comparison.md, .json and .png; the frames are deleted unless --keep_frames.
#
# Methods: dense; ASTRAEA at uniform θ 0.7, 0.5 and 0.4; FIXED-TOKEN at 0.5; TIMESTEP-LEVEL with
# the first and last 10% of steps dense and every other step in between; PAB (2, 6) and (5, 9);
# ToCa at 80% and 85% reuse; Δ-DiT with the seed's Wan settings (50 steps, 30 blocks) scaled to
# the job's steps and the model's blocks; TeaCache with the calibrated polynomial at thresholds
# 0.1 and 0.2; and with --registry (a `videogen schedules export`), ASTRAEA with every searched
# schedule there for this job's size, frames and steps. Prompts default to
# bench/prompts/demo_heldout.jsonl (held-out demo scenes).
# Binaries: bazel-bin/bench/*, or with --bundle the GPU bundle's (bundle/run.sh --binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

model="" out="" device=cuda dtype=bfloat16 height=320 width=448 frames=17 steps=30
prompts="$here/prompts/demo_heldout.jsonl" calibration_prompts=4 bundle=0 keep_frames=0 registry=""
python=${PYTHON:-python3}
compare_bin="" calibrate_bin=""
while (($#)); do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --dtype) dtype=$2; shift 2 ;;
    --height) height=$2; shift 2 ;;
    --width) width=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --prompts) prompts=$2; shift 2 ;;
    --calibration_prompts) calibration_prompts=$2; shift 2 ;;
    --registry) registry=$2; shift 2 ;;
    --bundle) bundle=1; shift ;;
    --python) python=$2; shift 2 ;;
    --keep_frames) keep_frames=1; shift ;;
    --compare_bin) compare_bin=$2; shift 2 ;;      # For tests: the binaries' paths.
    --calibrate_bin) calibrate_bin=$2; shift 2 ;;
    *) echo "run_comparison: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$model" && -n "$out" ]] || { echo "run_comparison: --model and --out are required" >&2; exit 2; }
[[ -f "$model/transformer/config.json" ]] || { echo "run_comparison: no model at $model" >&2; exit 2; }
mkdir -p "$out"

run() {  # run NAME ARGS...: a bench binary.
  local name=$1
  shift
  if ((bundle)); then
    bundle/run.sh --binary "bench.$name" "$@"
  elif [[ "$name" == acceleration_compare && -n "$compare_bin" ]]; then
    "$compare_bin" "$@"
  elif [[ "$name" == teacache_calibrate && -n "$calibrate_bin" ]]; then
    "$calibrate_bin" "$@"
  else
    "$here/../bazel-bin/bench/$name" "$@"
  fi
}
common=(--model_dir="$model" --device="$device" --dtype="$dtype" --height="$height"
  --width="$width" --frames="$frames" --steps="$steps")

head -n "$calibration_prompts" "$prompts" > "$out/calibration_prompts.jsonl"
run teacache_calibrate "${common[@]}" --prompts="$out/calibration_prompts.jsonl" \
  --json="$out/teacache_calibration.json"

# The settings that depend on the job and the model, computed once.
read -r delta_dit teacache timestep_level searched < <("$python" - "$model" "$steps" \
  "$out/teacache_calibration.json" "$height" "$width" "$frames" "$registry" <<'PY'
import json, sys
model, steps, calibration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size, registry = [int(v) for v in sys.argv[4:7]], sys.argv[7]
layers = json.load(open(f"{model}/transformer/config.json"))["num_layers"]
scale = lambda step: round(step * steps / 50)
delta_dit = (f"delta_dit(switch={scale(25)},interval=3,start={scale(5)},end={scale(45)},"
             f"blocks={max(1, round(10 * layers / 30))})")
coefficients = ",".join(repr(c) for c in json.load(open(calibration))["coefficients"])
ends = max(1, round(steps / 10))
levels = ["1"] * ends + [str(i % 2) for i in range(steps - 2 * ends)] + ["1"] * ends
searched = []
if registry:
    for schedule in json.load(open(registry)).get("schedules", []):
        key = schedule["key"]
        if schedule.get("searched") and [key["height"], key["width"], key["frames"]] == size \
                and key["steps"] == steps:
            searched.append("astraea:" + ",".join(f"{t:.1f}" for t in schedule["thetas"]))
print(delta_dit, f"[{coefficients}]", ",".join(levels), ";".join(searched) or "-")
PY
)
[[ -n "$timestep_level" ]] || { echo "run_comparison: could not derive the settings" >&2; exit 1; }
methods="dense;astraea:0.7;astraea:0.5;astraea:0.4;pab;pab(self=5,cross=9);toca;toca(reuse=0.85)"
methods+=";$delta_dit;teacache(threshold=0.1,coefficients=$teacache)"
methods+=";teacache(threshold=0.2,coefficients=$teacache);fixed_token:0.5"
methods+=";timestep_level:$timestep_level"
[[ "$searched" == - ]] || methods+=";$searched"
run acceleration_compare "${common[@]}" --prompts="$prompts" --out="$out/runs" \
  --methods="$methods"
"$python" "$here/compare_accelerations.py" --results "$out/runs" --out "$out/comparison"
((keep_frames)) || find "$out/runs" -name '*.raw' -delete
echo "run_comparison: $out/comparison.md"
