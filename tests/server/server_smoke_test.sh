#!/usr/bin/env bash
# End to end over loopback: start the real server binary on a free port, call it with the
# videogen CLI (info, health), stop it with SIGTERM; and check that a bad config is refused.
set -euo pipefail

server="$1"
cli="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; [[ -f "$tmp/server.log" ]] && sed 's/^/  server: /' "$tmp/server.log" >&2; exit 1; }

cat > "$tmp/server.textproto" <<'CONFIG'
listen_address: "127.0.0.1:0"
metrics_port: 0
models { name: "tiny-wan" path: "/nonexistent/tiny-wan" }
shutdown_grace_period { seconds: 5 }
CONFIG

"$server" --config="$tmp/server.textproto" --port_file="$tmp/port" >"$tmp/server.log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [[ -s "$tmp/port" ]] && break
  kill -0 $pid 2>/dev/null || fail "server exited before serving"
  sleep 0.1
done
[[ -s "$tmp/port" ]] || fail "server did not write its port within 10s"
address="127.0.0.1:$(cat "$tmp/port")"

info=$("$cli" --server="$address" info) || fail "info call failed"
echo "$info"
grep -q "^server   0.1.0 (engine 0.1.0, torch 2.11.0" <<<"$info" || fail "info lacks versions"
grep -q "^cuda     unavailable, 0 device(s)" <<<"$info" || fail "info should report no CUDA on CPU"
grep -q "^model    tiny-wan \[default\] (not ready)" <<<"$info" || fail "info lacks the model"

"$cli" --server="$address" health | grep -q "^server: SERVING$" || fail "server not SERVING"
# The video service is not ready (no model loaded): health says so and exits 1.
if out=$("$cli" --server="$address" health --service=videogen.v1.VideoGeneration); then
  fail "video service should not be SERVING: $out"
fi
grep -q "NOT_SERVING" <<<"$out" || fail "expected NOT_SERVING, got: $out"
if "$cli" --server="127.0.0.1:1" --timeout_s=2 info 2>"$tmp/unreachable"; then
  fail "info against a closed port should fail"
fi
grep -q "cannot reach the server" "$tmp/unreachable" || fail "unclear error: $(cat "$tmp/unreachable")"

kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 0 ]] || fail "server exited with $rc after SIGTERM"
grep -q "shutting down" "$tmp/server.log" || fail "no shutdown log line"

echo 'max_queued_jobs: -3' > "$tmp/bad.textproto"
if "$server" --config="$tmp/bad.textproto" 2>"$tmp/bad.log"; then fail "bad config accepted"; fi
grep -q "max_queued_jobs" "$tmp/bad.log" || fail "bad-config error does not name the field: $(cat "$tmp/bad.log")"
echo "PASS"
