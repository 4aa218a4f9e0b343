#!/usr/bin/env bash
# Makes the Python environment that generates the golden fixtures (tests/golden/): the pinned
# torch, diffusers and transformers from PyPI, in $VIDEOGEN_HOME/golden-venv (about 5 GB, with
# torch's CUDA dependencies; the fixtures themselves are computed on the CPU). Prints its python.
# Not part of the test command: the fixtures are committed, and tests only read them.
set -euo pipefail
readonly PINS=(torch==2.11.0 diffusers==0.42.1 transformers==5.23.0 accelerate==1.15.0
  sentencepiece==0.2.3 safetensors==0.8.0)
home="${VIDEOGEN_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/videogen}"
venv="$home/golden-venv"
[[ -x "$venv/bin/python3" ]] || python3 -m venv "$venv" >&2
missing=$(comm -23 <(printf '%s\n' "${PINS[@]}" | sort) <("$venv/bin/python3" -m pip freeze | sort))
if [[ -n "$missing" ]]; then
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check "${PINS[@]}" >&2
fi
echo "$venv/bin/python3"
