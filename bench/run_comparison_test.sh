#!/usr/bin/env bash
# The whole comparison (run_comparison.sh) on the tiny random-weight model on the CPU: the
# calibration, every method's generation (with the registry export's one searched schedule for
# this job), and the table and plot, with a row per method.
#   run_comparison_test.sh PYTHON COMPARE_BIN CALIBRATE_BIN
set -euo pipefail
python=$1 compare_bin=$2 calibrate_bin=$3
out="${TEST_TMPDIR:-$(mktemp -d)}/comparison"
printf '%s\n' '{"prompt": "a red circle moves left over a blue background", "seed": 1, "scene_seed": 3000000}' \
  '{"prompt": "a green square moves up slowly", "seed": 2, "scene_seed": null}' > "${out%/*}/prompts.jsonl"
# A `videogen schedules export`: one searched schedule for this job, one for another step count,
# one not searched.
key='"model_id": "wan-tiny", "height": 32, "width": 32, "frames": 9'
cat > "${out%/*}/registry.json" <<JSON
{"schedules": [
 {"key": {$key, "steps": 6}, "budget": 0.5, "thetas": [1, 0.3, 0.4, 0.5, 0.3, 1], "searched": true},
 {"key": {$key, "steps": 8}, "budget": 0.5, "thetas": [1, 0, 0, 0, 0, 0, 0, 1], "searched": true},
 {"key": {$key, "steps": 6}, "budget": 0.7, "thetas": [1, 0.7, 0.7, 0.7, 0.7, 1]}
]}
JSON
bench/run_comparison.sh --model tests/golden/wan_tiny --out "$out" --device cpu --dtype float32 \
  --height 32 --width 32 --frames 9 --steps 6 --prompts "${out%/*}/prompts.jsonl" \
  --calibration_prompts 2 --registry "${out%/*}/registry.json" --python "$python" \
  --compare_bin "$compare_bin" \
  --calibrate_bin "$calibrate_bin" > "${out%/*}/log" 2>&1 || { cat "${out%/*}/log"; exit 1; }

fail() { echo "run_comparison_test: $*" >&2; exit 1; }
[[ -s "$out/comparison.png" ]] || fail "no plot"
[[ -s "$out/teacache_calibration.json" ]] || fail "no calibration"
rows=$(grep -c '^| ' "$out/comparison.md" || true)
((rows == 2 + 14)) || fail "expected 14 method rows, found $((rows - 2))"
for name in dense astraea:0.4 astraea:1.0,0.3,0.4,0.5,0.3,1.0 fixed_token:0.5 timestep_level:1,0,1,0,1,1 'pab(self=5,cross=9)' \
  'toca(reuse=0.85)' 'delta_dit(switch=3,interval=3,start=1' 'teacache(threshold=0.2'; do
  grep -qF "| $name" "$out/comparison.md" || fail "no row for $name"
done
if find "$out/runs" -name '*.raw' | grep . > /dev/null; then fail "frames were kept"; fi
echo "run_comparison_test: OK"
