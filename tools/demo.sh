#!/usr/bin/env bash
# The project's main job (README): set the machine up, build the server and the CLI, start the
# server on a free loopback port, call it, and shut it down cleanly.
#
# The server does not generate videos yet (see the issue tracker); this runs everything that
# exists end to end: config loading, gRPC serving, health, GetServerInfo, graceful shutdown.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
bazel build --noshow_progress //server:videogen_server //server/cli:videogen
bin=$(bazel info bazel-bin 2>/dev/null)

work=$(mktemp -d)
trap 'kill -9 "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/server.textproto" <<'CONFIG'
listen_address: "127.0.0.1:0"
shutdown_grace_period { seconds: 10 }
CONFIG

"$bin/server/videogen_server" --config="$work/server.textproto" --port_file="$work/port" &
pid=$!
for _ in $(seq 1 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { echo "demo: the server did not start" >&2; exit 1; }
address="127.0.0.1:$(cat "$work/port")"

echo "demo: videogen --server=$address health"
"$bin/server/cli/videogen" --server="$address" health
echo "demo: videogen --server=$address info"
"$bin/server/cli/videogen" --server="$address" info

kill -TERM "$pid"
wait "$pid"
echo "demo: server stopped cleanly"
