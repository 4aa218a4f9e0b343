#!/usr/bin/env bash
# Runs a Python unittest file with the tests' virtualenv: run_python_test.sh PYTHON TEST_FILE.
set -euo pipefail
exec "$1" "$2" -v
