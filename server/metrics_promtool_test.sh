#!/usr/bin/env bash
# Checks that Prometheus' own promtool parses the output of metrics_sample (a registry with every
# kind of metric) and finds no lint problems in it (HELP text, counter suffixes, units, ...).
#
#   metrics_promtool_test.sh PATH_TO_METRICS_SAMPLE
set -euo pipefail

sample="$1"
if ! command -v promtool >/dev/null; then
  echo "FAIL: promtool not found on PATH ($PATH); tools/setup.sh installs it" \
    "(Debian package prometheus)" >&2
  exit 1
fi

text="${TEST_TMPDIR:-$(mktemp -d)}/metrics.txt"
"$sample" >"$text" || { echo "FAIL: $sample exited with status $?" >&2; exit 1; }
status=0
problems=$(promtool check metrics <"$text" 2>&1) || status=$?
if ((status != 0)) || [[ -n "$problems" ]]; then
  echo "FAIL: promtool check metrics (exit status $status) reports:" >&2
  echo "$problems" >&2
  echo "--- the text it checked:" >&2
  cat "$text" >&2
  exit 1
fi
echo "PASS: promtool check metrics accepts $(grep -c -v '^#' "$text") samples in" \
  "$(grep -c '^# TYPE' "$text") families"
