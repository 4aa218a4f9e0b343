#!/usr/bin/env bash
# Downloads the wheels that tools/demo_model/train_on_device.sh installs on the GPU machine, which
# has torch 2.11.0 for Python 3.12 but no network: diffusers, transformers and their dependencies
# at the versions of tools/golden/setup_venv.sh's environment, without torch and its CUDA wheels
# and without numpy and pillow, which the machine's image has (about 27 MB, into wheelhouse/,
# which git ignores and the device tool's `carry` takes along; the room left under its 64 MiB is
# for a checkpoint to continue, e.g. an unpacked demo.tgz, carried too).
#
#   tools/demo_model/make_wheelhouse.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
readonly PINS=(
  diffusers==0.42.1 transformers==5.23.0 tokenizers==0.23.3 safetensors==0.8.0
  sentencepiece==0.2.3 huggingface_hub==2.5.0 pyyaml==6.0.4
  regex==2026.12.2 requests==2.34.2 tqdm==4.70.1 packaging==26.4 importlib_metadata==10.2.0
  zipp==4.1.2 certifi==2026.10.19.post1 charset_normalizer==3.5.3 idna==3.21 urllib3==2.8.0
  anyio==4.16.0 h11==0.16.0 httpcore2==2.17.0 httpx2==2.17.0 lazy_importer==0.1.0
  truststore==0.10.5
)
out="${1:-wheelhouse}"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any \
  --dest "$out" "${PINS[@]}"
echo "make_wheelhouse: $(ls "$out" | wc -l) wheels in $out"
