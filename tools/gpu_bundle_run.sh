#!/usr/bin/env bash
# Runs a GPU bundle (made by tools/gpu_bundle.sh) on the GPU machine.
#
#   bundle/run.sh [--results DIR] [--binary NAME [ARGS...]]
#
# Without --binary it runs every test in MANIFEST, writes each one's log and GoogleTest XML and a
# summary.json to DIR (default: $OUT if set, else ./gpu-results) and exits non-zero if any failed.
# With --binary it runs that one binary (e.g. a benchmark) with ARGS.
#
# LibTorch and the CUDA libraries come from the machine's torch: the Python named by
# $VIDEOGEN_PYTHON, else /opt/torch/.venv/bin/python3, else python3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results="${OUT:-$PWD/gpu-results}"
binary=""
while (($#)); do
  case "$1" in
    --results) results="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2; break ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

python="${VIDEOGEN_PYTHON:-/opt/torch/.venv/bin/python3}"
[[ -x "$python" ]] || python=$(command -v python3)
site=$("$python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0] + "/..")') ||
  { echo "run.sh: error: no torch found for $python" >&2; exit 1; }
torch_version=$("$python" -c 'import re,sys; print(re.search(r"__version__\s*=\s*.([^\x27\"]+)", open(sys.argv[1]).read()).group(1))' "$site/torch/version.py")
[[ "${torch_version%%+*}" == 2.11.0 ]] || { echo "run.sh: error: torch $torch_version at $site; need 2.11.0" >&2; exit 1; }
# A bundle too large uncompressed carries its binaries and libraries as payload.tar.xz.
if [[ ! -d "$here/lib" && -f "$here/payload.tar.xz" ]]; then
  tar -C "$here" -xJf "$here/payload.tar.xz" ||
    { echo "run.sh: error: cannot unpack payload.tar.xz" >&2; exit 1; }
fi
nvidia_libs=$(find "$site/nvidia" -maxdepth 3 -name lib -type d 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$here/lib:$site/torch/lib:${nvidia_libs}${LD_LIBRARY_PATH:-}"

if [[ -n "$binary" ]]; then
  TEST_SRCDIR="$here/runfiles" TEST_WORKSPACE=videogen exec "$here/bin/$binary" "$@"
fi

mkdir -p "$results"
passed=0; failed=0; entries=()
echo "run.sh: torch $torch_version, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
while read -r kind name; do
  [[ "$kind" == test ]] || continue
  start_ms=$(($(date +%s%N) / 1000000))
  TEST_TMPDIR=$(mktemp -d) TEST_SRCDIR="$here/runfiles" TEST_WORKSPACE=videogen "$here/bin/$name" --gtest_output="xml:$results/$name.xml" >"$results/$name.log" 2>&1
  rc=$?
  elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
  seconds=$(printf '%d.%03d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)))
  if ((rc == 0)); then passed=$((passed + 1)); verdict=PASSED; else failed=$((failed + 1)); verdict=FAILED; fi
  printf '%-60s %s in %ss\n' "$name" "$verdict" "$seconds"
  ((rc == 0)) || tail -n 30 "$results/$name.log"
  entries+=("{\"test\": \"$name\", \"result\": \"$verdict\", \"exit_code\": $rc, \"seconds\": $seconds}")
done < "$here/MANIFEST"
(IFS=,; echo "{\"torch\": \"$torch_version\", \"tests\": [${entries[*]}]}") > "$results/summary.json"
echo "gpu: $passed passed, $failed failed"
((failed == 0))
