#!/usr/bin/env bash
# The shared libraries our binaries need beyond what a machine running them provides anyway:
# glibc and the compiler runtime, LibTorch and the CUDA libraries (from a torch 2.11.0 install),
# and the driver. Used by tools/gpu_bundle.sh (the GPU machine's bundle) and deploy/Dockerfile
# (the runtime image), and checked by //tests/deploy:deploy_test.
#
#   tools/runtime_libs.sh --torch-lib DIR --out DIR BINARY...   copy what the binaries need to DIR
#   tools/runtime_libs.sh --torch-lib DIR --check DIR BINARY... verify that every library the
#       binaries need resolves to DIR, to torch's or the CUDA wheels' libraries, or is provided
#
# Libraries are resolved as on the target, with torch's libraries found first (--torch-lib).
set -euo pipefail

usage() { sed -n '2,11p' "$0" >&2; exit 2; }
torch_lib="" out="" check=""
while (($#)); do
  case "$1" in
    --torch-lib) torch_lib="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --check) check="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) break ;;
  esac
done
[[ -n "$torch_lib" && ( -n "$out" || -n "$check" ) && $# -gt 0 ]] || usage

# What the target provides (see the header).
is_provided() {
  case "$1" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libgcc_s.so.*|libstdc++.so.*) return 0 ;;
    libtorch*|libc10*|libgomp*|libcuda.so.*|libcudart.so.*|libcupti.so.*|libcublas*|libcudnn*|libnccl*|libnvrtc*|libcufft*|libcurand*|libcusparse*|libcusolver*|libnvJitLink*|libnvToolsExt*|libcufile*|libnvshmem*) return 0 ;;
  esac
  return 1
}

# "name path" for every library a binary loads.
needed() {
  LD_LIBRARY_PATH="${check:+$check:}$torch_lib" ldd "$1" | awk '$2 == "=>" {print $1, $3}'
}

status=0
for binary in "$@"; do
  while read -r lib path; do
    if [[ -n "$out" ]]; then
      is_provided "$lib" && continue
      if [[ -z "$path" || "$path" == "not" ]]; then
        echo "runtime_libs: $binary: $lib not found" >&2
        status=1
        continue
      fi
      mkdir -p "$out"
      cp -nL "$path" "$out/$lib"
    else
      if is_provided "$lib"; then
        # LibTorch's own libraries must come from torch, not from the system.
        case "$lib" in
          libtorch*|libc10*) [[ "$path" == "$torch_lib"/* || "$(readlink -f "$path")" == "$(readlink -f "$torch_lib")"/* ]] ||
            { echo "runtime_libs: $binary: $lib resolves to $path, not to torch ($torch_lib)" >&2; status=1; } ;;
        esac
      elif [[ "$path" != "$check"/* ]]; then
        echo "runtime_libs: $binary: $lib ($path) is neither provided nor in $check" >&2
        status=1
      fi
    fi
  done < <(needed "$binary")
done
exit "$status"
