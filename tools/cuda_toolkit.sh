#!/usr/bin/env bash
# Installs the CUDA 13.0 toolkit that the --config=cuda build needs (nvcc, the runtime, and the
# headers LibTorch's CUDA and NCCL headers include) from NVIDIA's PyPI wheels, laid out as a
# toolkit at PREFIX (default /usr/local/cuda), where tools/setup.sh and the build look for it.
# The wheels are pinned to the versions torch 2.11.0's CUDA dependencies resolve to (nvcc 13.0.88,
# NCCL 2.28.9), so code compiles against the libraries it runs with; no NVIDIA apt repository is
# needed, only PyPI (the container build, deploy/Dockerfile, uses it).
#
#   tools/cuda_toolkit.sh [PREFIX]
set -euo pipefail

readonly WHEELS=(
  nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
  nvidia-cuda-cccl==13.0.85 nvidia-cuda-runtime==13.0.96
  # Headers that LibTorch's ATen/cuda and c10d ones include.
  nvidia-cublas==13.1.0.3 nvidia-cusparse==12.6.3.3 nvidia-cusolver==12.0.4.66
  nvidia-curand==10.4.0.35 nvidia-nccl-cu13==2.28.9
)
prefix="${1:-/usr/local/cuda}"
die() { echo "cuda_toolkit: error: $*" >&2; exit 1; }
[[ ! -e "$prefix/bin/nvcc" ]] || die "$prefix already holds a toolkit"
command -v python3 >/dev/null || die "python3 not found"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv" || die "python3 -m venv failed (install python3-venv)"
"$work/venv/bin/python3" -m pip install -q --disable-pip-version-check --no-deps \
  --target "$work/wheels" "${WHEELS[@]}" || die "pip could not install ${WHEELS[*]}"

# The toolkit wheels share the prefix nvidia/cu13 (bin, nvvm, include, lib); NCCL's wheel has its
# own, nvidia/nccl.
mkdir -p "$(dirname "$prefix")"
mv "$work/wheels/nvidia/cu13" "$prefix"
cp -a "$work/wheels/nvidia/nccl/include/." "$prefix/include/"
cp -a "$work/wheels/nvidia/nccl/lib/." "$prefix/lib/"
# The names a toolkit installed by NVIDIA's packages also has: lib64, and the unversioned
# libraries the linker looks for.
ln -s lib "$prefix/lib64"
for library in "$prefix"/lib/lib*.so.*; do
  unversioned="${library%%.so.*}.so"
  [[ -e "$unversioned" ]] || ln -s "$(basename "$library")" "$unversioned"
done
"$prefix/bin/nvcc" --version | tail -1
