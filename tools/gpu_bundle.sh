#!/usr/bin/env bash
# Builds the GPU bundle: everything the GPU machine runs, in one folder (default: bundle/).
#
#   tools/gpu_bundle.sh [--out DIR] [bazel target patterns...]
#
# With no patterns it packs every `gpu`-tagged test, every `benchmark`-tagged binary, the server and
# the CLI; patterns (bazel query expressions) choose other targets. Tests in the bundle are run by
# run.sh; other binaries are run with run.sh --binary.
# The bundle holds the binaries (built with --config=cuda, our own libraries linked in statically),
# the Debian shared libraries they need that the GPU machine lacks (gRPC, abseil, protobuf, ...) and
# run.sh, which runs them there. LibTorch, the CUDA libraries and glibc/libstdc++ are not packed: the
# GPU machine's torch 2.11.0+cu130 provides them. Fails if the bundle exceeds 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

out=bundle
patterns=()
while (($#)); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) patterns+=("$1"); shift ;;
  esac
done
readonly LIMIT_BYTES=$((64 * 1024 * 1024))

tools/setup.sh >/dev/null

if ((${#patterns[@]} == 0)); then
  mapfile -t targets < <(bazel query --noshow_progress \
    'attr(tags, "\bgpu\b", tests(//...)) + attr(tags, "\bbenchmark\b", kind(cc_binary, //...)) + kind(cc_binary, //server/...)' 2>/dev/null)
else
  mapfile -t targets < <(bazel query --noshow_progress "$(IFS=+; echo "${patterns[*]}")" 2>/dev/null)
fi
((${#targets[@]})) || { echo "gpu_bundle: no targets to pack" >&2; exit 1; }

# --dynamic_mode=off links the project's own libraries into each binary, so only system and
# LibTorch shared libraries remain to resolve on the GPU machine.
bazel build --config=cuda --dynamic_mode=off "${targets[@]}"

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
bin_dir=$(bazel info --config=cuda bazel-bin 2>/dev/null)
torch_lib=$(readlink -f "$(bazel info output_base 2>/dev/null)/external/torch/lib/libc10.so" | xargs dirname)

manifest=()
for target in "${targets[@]}"; do
  rel=${target#//}; rel=${rel/://}
  name=$(echo "${rel}" | tr '/' '.')
  cp "$bin_dir/$rel" "$out/bin/$name"
  kind=$([[ -n "$(bazel query --noshow_progress "tests($target)" 2>/dev/null)" ]] && echo test || echo binary)
  manifest+=("$kind $name")
  # Data under tests/ (Bazel `data`, e.g. golden fixtures) of tests and benchmarks goes into one
  # shared runfiles tree; run.sh points TEST_SRCDIR at it.
  if [[ -d "$bin_dir/$rel.runfiles/videogen/tests" ]]; then
    mkdir -p "$out/runfiles/videogen"
    cp -rLn "$bin_dir/$rel.runfiles/videogen/tests" "$out/runfiles/videogen/"
  fi
  # The Debian libraries the GPU machine lacks (it has glibc, LibTorch and CUDA).
  tools/runtime_libs.sh --torch-lib "$torch_lib" --out "$out/lib" "$out/bin/$name"
done
printf '%s\n' "${manifest[@]}" > "$out/MANIFEST"
cp tools/gpu_bundle_run.sh "$out/run.sh"
chmod +x "$out/run.sh"

libraries=$(ls "$out/lib" | wc -l)
size=$(du -sb "$out" | cut -f1)
if ((size > LIMIT_BYTES)); then
  # FFmpeg's codec libraries alone exceed the limit uncompressed, and the binaries add up:
  # both travel compressed (about 4x) and run.sh unpacks them.
  tar -C "$out" -cf - bin lib | xz -T0 -9 > "$out/payload.tar.xz"
  rm -rf "$out/bin" "$out/lib"
  size=$(du -sb "$out" | cut -f1)
fi
echo "gpu_bundle: $out: ${#targets[@]} binaries, $libraries libraries, $((size / 1024 / 1024)) MiB"
((size <= LIMIT_BYTES)) || { echo "gpu_bundle: error: bundle is over 64 MiB" >&2; exit 1; }
