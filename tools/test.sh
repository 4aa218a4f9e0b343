#!/usr/bin/env bash
# The project's test command (README, .ci/run): sets the machine up, runs every CPU test, and
# compiles the CUDA code (GPU tests run on the GPU machine: tools/gpu_bundle.sh).
#
#   tools/test.sh [extra bazel flags...]
#
# VIDEOGEN_CPU_ONLY=1 skips the CUDA toolkit check and the CUDA compile, for machines without it.
set -euo pipefail
cd "$(dirname "$0")/.."

cpu_only=${VIDEOGEN_CPU_ONLY:-0}
if [[ "$cpu_only" == 1 ]]; then tools/setup.sh --cpu-only; else tools/setup.sh; fi

flags=("$@")
[[ -n "${CI:-}" ]] && flags+=(--config=ci)

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --test_summary=short lists every test with its result, which the summary below counts.
bazel test "${flags[@]}" --test_summary=short //... 2>&1 | tee "$log" || status=$?

if [[ "$cpu_only" != 1 ]]; then
  echo "test.sh: compiling the CUDA code (--config=cuda)"
  bazel build "${flags[@]}" --config=cuda //... || status=$?
fi

passed=$(grep -cE '^//\S+\s+(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//\S+\s+(FAILED|TIMEOUT|FLAKY|INCOMPLETE|NO STATUS)' "$log" || true)
skipped=$(grep -cE '^//\S+\s+SKIPPED' "$log" || true)

echo "bazel: $passed passed, $failed failed, $skipped skipped"
exit "$status"
