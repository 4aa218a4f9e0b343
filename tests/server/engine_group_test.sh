#!/usr/bin/env bash
# A multi-rank server on the CPU: with `engine_layout { devices_per_group: 2 ulysses_degree: 2 }`
# the server starts its second rank itself (a process of the same binary, Gloo over loopback)
# and serves generations through the API whose raw frames match a single-rank server's (to
# within float32 rounding); ASTRAEA budgets run too. Losing the second rank turns the video
# service NOT_SERVING instead of hanging it, and SIGTERM still stops the server.
set -euo pipefail

server="$1"
cli="$2"
model="$PWD/tests/golden/wan_tiny"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
log=""
fail() { echo "FAIL: $*" >&2; [[ -n "$log" && -f "$log" ]] && sed 's/^/  server: /' "$log" >&2; exit 1; }

# start NAME LAYOUT: starts a server with the engine layout LAYOUT; sets pid, vg and log.
start() {
  local name="$1" layout="$2"
  log="$tmp/$name.log"
  cat > "$tmp/$name.textproto" <<CONFIG
listen_address: "127.0.0.1:0"
metrics_port: 0
data_dir: "$tmp/$name-data"
models { name: "tiny-wan" path: "$model" }
shutdown_grace_period { seconds: 5 }
$layout
CONFIG
  rm -f "$tmp/$name.port"
  "$server" --config="$tmp/$name.textproto" --port_file="$tmp/$name.port" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    [[ -s "$tmp/$name.port" ]] && break
    kill -0 $pid 2>/dev/null || fail "$name exited before serving"
    sleep 0.1
  done
  [[ -s "$tmp/$name.port" ]] || fail "$name did not write its port within 20s"
  vg=("$cli" --server="127.0.0.1:$(cat "$tmp/$name.port")")
  for _ in $(seq 1 300); do
    "${vg[@]}" health --service=videogen.v1.VideoGeneration 2>/dev/null | grep -q ": SERVING$" &&
      return 0
    kill -0 $pid 2>/dev/null || fail "$name exited while loading"
    sleep 0.1
  done
  fail "$name's video service did not become SERVING within 30s"
}

stop() {
  kill -TERM $pid
  wait $pid || fail "the server exited with $? on SIGTERM"
}

generate() {  # generate OUTPUT [BUDGET]
  "${vg[@]}" generate --prompt="a red circle moves left" --height=48 --width=80 --frames=9 \
    --steps=4 --seed=7 --format=raw --budget="${2:-1}" --output="$1" >/dev/null 2>"$tmp/generate.err" ||
    fail "generate failed: $(cat "$tmp/generate.err")"
}

trap 'kill -9 ${pid:-0} 2>/dev/null || true' EXIT

start single ""
generate "$tmp/single.raw"
stop

start group "engine_layout { devices_per_group: 2 ulysses_degree: 2 }"
grep -q "starting 1 engine group(s) of 2 ranks on the CPU, layout cfg1xulysses2xring1" "$log" ||
  fail "the server did not start a group of 2"
follower=$(pgrep -P $pid) || fail "no second rank process"
[[ $(wc -w <<<"$follower") == 1 ]] || fail "expected one follower process, got: $follower"
generate "$tmp/group.raw"
# The shards' matrix products run on fewer rows than one process's, which may round differently
# in float32: the frames must agree to within a level on a few values.
python3 - "$tmp/single.raw" "$tmp/group.raw" <<'PY' || fail "the group's frames differ from the single rank's"
import sys
a, b = (open(path, "rb").read() for path in sys.argv[1:])
assert len(a) == len(b) > 0, (len(a), len(b))
diffs = [abs(x - y) for x, y in zip(a, b) if x != y]
print(f"frames: {len(a)} bytes, {len(diffs)} differ, max difference {max(diffs, default=0)}")
sys.exit(0 if max(diffs, default=0) <= 1 and len(diffs) <= len(a) // 1000 else 1)
PY
generate "$tmp/group-sparse.raw" 0.5
[[ -s "$tmp/group-sparse.raw" ]] || fail "no ASTRAEA output from the group"

# A lost rank: the video service leaves service within a few seconds, the server still answers.
kill -9 $follower
video_health() { "${vg[@]}" health --service=videogen.v1.VideoGeneration 2>/dev/null || true; }
for _ in $(seq 1 100); do
  [[ "$(video_health)" == *": NOT_SERVING" ]] && break
  sleep 0.1
done
[[ "$(video_health)" == *": NOT_SERVING" ]] || fail "the video service still serves with a rank lost"
grep -q "the engine group is broken" "$log" || fail "no log line about the broken group"
"${vg[@]}" health | grep -q "^server: SERVING$" || fail "the server itself stopped answering"
stop
echo "PASS"
