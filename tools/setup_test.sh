#!/usr/bin/env bash
# tools/setup.sh must explain a bad environment in one line: wrong or missing torch, missing or
# wrong CUDA, bad arguments. (Missing Debian packages are installed when run as root, which is how
# CI runs; as a non-root user without sudo the script names them instead.)
set -uo pipefail
setup="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0

# expect NAME EXIT_CODE PATTERN -- COMMAND...: the command fails with EXIT_CODE and its output
# contains one "setup: error:" line matching PATTERN.
expect() {
  local name="$1" code="$2" pattern="$3"; shift 4
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  local errors
  errors=$(grep -c '^setup: error: ' <<<"$out")
  if [[ $rc -ne $code || $errors -ne 1 ]] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $code), $errors error lines; output:"; sed 's/^/  /' <<<"$out"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(grep '^setup: error: ' <<<"$out")"
  fi
}

# A Python whose torch is 2.10.0, and one with no torch at all.
mkdir -p "$tmp/old/torch" "$tmp/none" "$tmp/cuda12/bin" "$tmp/nocuda"
echo "__version__ = '2.10.0+cpu'" > "$tmp/old/torch/version.py"
touch "$tmp/old/torch/__init__.py"
python=$(command -v python3)
printf '#!/bin/sh\nPYTHONPATH=%s PYTHONNOUSERSITE=1 exec %s -S "$@"\n' "$tmp/old" "$python" > "$tmp/python-old"
printf '#!/bin/sh\nPYTHONPATH=%s PYTHONNOUSERSITE=1 exec %s -S "$@"\n' "$tmp/none" "$python" > "$tmp/python-none"
printf '#!/bin/sh\necho "Cuda compilation tools, release 12.4, V12.4.131"\n' > "$tmp/cuda12/bin/nvcc"
chmod +x "$tmp/python-old" "$tmp/python-none" "$tmp/cuda12/bin/nvcc"

expect "wrong torch" 1 "torch 2.10.0+cpu found.*needs torch==2.11.0" -- \
  env VIDEOGEN_PYTHON="$tmp/python-old" "$setup" --cpu-only
expect "missing torch" 1 "torch is not installed for VIDEOGEN_PYTHON" -- \
  env VIDEOGEN_PYTHON="$tmp/python-none" "$setup" --cpu-only
expect "missing python" 1 "is not an executable" -- \
  env VIDEOGEN_PYTHON="$tmp/does-not-exist" "$setup" --cpu-only
expect "missing CUDA" 1 "CUDA 13.0 toolkit not found at $tmp/nocuda" -- \
  env CUDA_PATH="$tmp/nocuda" VIDEOGEN_PYTHON="$tmp/python-old" "$setup"
expect "wrong CUDA" 1 "is CUDA 12.4; the build needs CUDA 13.0" -- \
  env CUDA_PATH="$tmp/cuda12" VIDEOGEN_PYTHON="$tmp/python-old" "$setup"
expect "bad argument" 2 "unknown argument '--fast'" -- "$setup" --fast

if ((failures)); then echo "$failures case(s) failed"; exit 1; fi
echo "PASS"
