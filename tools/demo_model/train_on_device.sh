#!/usr/bin/env bash
# Trains the demo model on the GPU machine and scores the result with the Python reference, in one
# command for the device tool (run with carry ["wheelhouse"], made by make_wheelhouse.sh):
#
#   tools/demo_model/train_on_device.sh OUT MODEL [train.py arguments...]
#
# Installs the wheelhouse next to the machine's torch (/opt/torch/.venv), runs train.py into the
# folder MODEL (under /tmp, kept between calls while the machine stays warm, so that a later call
# can continue it with `--init MODEL` into another folder), scores $EVAL_COUNT (default 16)
# held-out prompts with evaluate.py --model on the GPU (EVAL_COUNT=0: none), and leaves OUT/demo.tgz
# (the model folder), OUT/eval_ref.json and OUT/strip.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$1"
model="$2"
shift 2
python=/opt/torch/.venv/bin/python3
# Once per machine: a later call on the warm machine finds them.
[[ -d /tmp/wheels ]] ||
  "$python" -m pip install --quiet --no-deps --no-index --target /tmp/wheels wheelhouse/*.whl
export PYTHONPATH=/tmp/wheels
"$python" tools/demo_model/train.py --out "$model" --scale full --device cuda --workers 14 "$@" \
  2>&1 | grep -v 'it/s\]'
if [[ "${EVAL_COUNT:-16}" != 0 ]]; then
  "$python" tools/demo_model/evaluate.py --model "$model" --device cuda --count "${EVAL_COUNT:-16}" \
    --json "$out/eval_ref.json" --strip "$out/strip.png" | tail -14
fi
tar -C "$(dirname "$model")" -czf "$out/demo.tgz" "$(basename "$model")"
