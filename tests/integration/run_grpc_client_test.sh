#!/usr/bin/env bash
# Runs grpc_client_test.py with the integration tests' Python (@testenv//:python3).
#   run_grpc_client_test.sh PYTHON SERVER_BINARY
set -euo pipefail
python=$1
server=$2
command -v promtool >/dev/null || { echo "promtool is missing: run tools/setup.sh" >&2; exit 1; }
exec "$python" tests/integration/grpc_client_test.py "$server" "$(command -v promtool)"
