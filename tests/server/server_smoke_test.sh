#!/usr/bin/env bash
# End to end over loopback with the videogen CLI: start the real server binary with the tiny
# model of tests/golden/wan_tiny, then info, health, generate (with progress) to a file, submit,
# get, watch, fetch, cancel, jobs (with and without the admin token), schedules (import, list,
# lookup, export; a job then runs the imported schedule), searches (submit, watch, list; a job
# then runs the searched schedule), error reporting, SIGTERM; searches run by a separate
# videogen_search_worker process;
# a model that cannot load stops the server with a clear error; a bad config is refused.
set -euo pipefail

server="$1"
cli="$2"
worker="$3"
model="$PWD/tests/golden/wan_tiny"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; [[ -f "$tmp/server.log" ]] && sed 's/^/  server: /' "$tmp/server.log" >&2; exit 1; }

echo "smoke-admin" > "$tmp/admin-token"
cat > "$tmp/server.textproto" <<CONFIG
listen_address: "127.0.0.1:0"
metrics_port: 0
data_dir: "$tmp/data"
admin_token_file: "$tmp/admin-token"
models { name: "tiny-wan" path: "$model" }
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
vg=("$cli" --server="127.0.0.1:$(cat "$tmp/port")")
for _ in $(seq 1 100); do
  "${vg[@]}" health --service=videogen.v1.VideoGeneration >/dev/null 2>&1 && break
  sleep 0.1
done

info=$("${vg[@]}" info) || fail "info call failed"
echo "$info"
grep -q "^server   0.1.0 (engine 0.1.0, torch 2.11.0" <<<"$info" || fail "info lacks versions"
grep -q "^cuda     unavailable, 0 device(s)" <<<"$info" || fail "info should report no CUDA on CPU"
grep -q "^model    tiny-wan \[default\] (ready)" <<<"$info" || fail "info lacks the ready model"
"${vg[@]}" health | grep -q "^server: SERVING$" || fail "server not SERVING"
"${vg[@]}" health --service=videogen.v1.VideoGeneration | grep -q ": SERVING$" ||
  fail "video service not SERVING once the model is loaded"

# generate: progress on stderr, the record on stdout, the video in the file.
"${vg[@]}" generate --prompt="a kite over the sea" --height=32 --width=48 --frames=9 --steps=4 \
  --budget=0.5 --seed=3 --output="$tmp/kite.mp4" >"$tmp/generate.out" 2>"$tmp/generate.err" ||
  fail "generate failed: $(cat "$tmp/generate.err")"
grep -q "^step 4/4 " "$tmp/generate.err" || fail "no progress: $(cat "$tmp/generate.err")"
grep -q "^stage denoising" "$tmp/generate.err" || fail "no stage events"
grep -q "^state    succeeded" "$tmp/generate.out" || fail "not succeeded: $(cat "$tmp/generate.out")"
grep -q "^schedule fallback, budget 0.5" "$tmp/generate.out" || fail "no schedule line"
[[ "$(head -c 8 "$tmp/kite.mp4" | tail -c 4)" == ftyp ]] || fail "the output is not an MP4"

# submit prints only the id; get, watch and fetch use it.
id=$("${vg[@]}" submit --prompt="a kite" --height=32 --width=48 --frames=9 --steps=2)
[[ "$id" =~ ^[0-9a-f]{32}$ ]] || fail "submit printed '$id'"
"${vg[@]}" watch "$id" >"$tmp/watch.out" 2>/dev/null || fail "watch: job did not succeed"
"${vg[@]}" get "$id" | grep -q "^state    succeeded" || fail "get does not show the state"
"${vg[@]}" fetch "$id" --output="$tmp/again.mp4" 2>/dev/null || fail "fetch failed"
[[ -s "$tmp/again.mp4" ]] || fail "fetch wrote nothing"
"${vg[@]}" cancel "$id" 2>"$tmp/cancel.err" && fail "cancelling a succeeded job should fail"
grep -q "already finished" "$tmp/cancel.err" || fail "unclear cancel error: $(cat "$tmp/cancel.err")"

"${vg[@]}" jobs 2>"$tmp/jobs.err" && fail "jobs without the admin token should fail"
grep -q "authorization" "$tmp/jobs.err" || fail "unclear jobs error: $(cat "$tmp/jobs.err")"
"${vg[@]}" --admin_token_file="$tmp/admin-token" jobs | grep -q "^$id  succeeded" ||
  fail "jobs does not list $id"

# The schedule registry: import (admin), list, lookup; a job then runs the searched schedule.
cat > "$tmp/schedules.json" <<'JSON'
{"schedules": [{"key": {"model_id": "tiny-wan", "height": 32, "width": 48, "frames": 9,
  "steps": 4}, "budget": 0.5, "thetas": [1, 0.2, 0, 0.8], "searched": true,
  "provenance": {"search_id": "manual", "fitness_mse": 0.01}}]}
JSON
"${vg[@]}" schedules import "$tmp/schedules.json" 2>"$tmp/import.err" &&
  fail "import without the admin token should fail"
"${vg[@]}" --admin_token_file="$tmp/admin-token" schedules import "$tmp/schedules.json" |
  grep -q "version 1$" || fail "import did not store the schedule"
"${vg[@]}" schedules list | grep -q "tiny-wan 48x32x9/4" || fail "list lacks the schedule"
"${vg[@]}" schedules lookup --model=tiny-wan --height=32 --width=48 --frames=9 --steps=4 \
  --budget=0.7 | grep -q '"match": "SCHEDULE_MATCH_EXACT_KEY"' || fail "lookup did not match"
"${vg[@]}" schedules export | grep -q '"search_id": "manual"' || fail "export lacks provenance"
"${vg[@]}" generate --prompt="a kite" --height=32 --width=48 --frames=9 --steps=4 --budget=0.7 \
  --output="$tmp/searched.mp4" 2>/dev/null | grep -q "^schedule exact_key (searched), budget 0.5" ||
  fail "the job did not run the searched schedule"

# A schedule search submitted over RPC (admin), watched to its end; a job then runs its result.
search_key=(--model=tiny-wan --height=32 --width=48 --frames=9 --steps=5)
"${vg[@]}" searches submit "${search_key[@]}" --budgets=0.5 2>/dev/null &&
  fail "a search without the admin token should be refused"
search=$("${vg[@]}" --admin_token_file="$tmp/admin-token" searches submit "${search_key[@]}" \
  --budgets=0.5 --population=4 --generations=2 --parents=2 --seed=1) || fail "search submit"
[[ "$search" =~ ^[0-9a-f]{32}$ ]] || fail "searches submit printed '$search'"
"${vg[@]}" searches watch "$search" >"$tmp/search.out" 2>"$tmp/search.err" ||
  fail "search did not succeed: $(cat "$tmp/search.out" "$tmp/search.err")"
grep -q "^budget 0.5 generation 2/2" "$tmp/search.err" || fail "no search progress"
grep -q "^result   budget 0.5: schedule" "$tmp/search.out" || fail "no search result"
"${vg[@]}" searches list | grep -q "^$search  succeeded" || fail "searches list"
"${vg[@]}" generate --prompt="a kite" "${search_key[@]:1}" --budget=0.5 \
  --output="$tmp/searched2.mp4" 2>/dev/null | grep -q "^schedule exact_key (searched), budget 0.5" ||
  fail "the job did not run the schedule the search published"

rc=0; "${vg[@]}" generate --prompt="x" --budget=2 --output="$tmp/x.mp4" 2>"$tmp/bad.err" || rc=$?
[[ $rc -eq 1 ]] || fail "a refused job should exit 1, got $rc"
grep -q "budget" "$tmp/bad.err" || fail "the error does not name the field: $(cat "$tmp/bad.err")"
rc=0; "${vg[@]}" get 2>/dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "get without an id should be a usage error, got $rc"
if "$cli" --server="127.0.0.1:1" --timeout_s=2 info 2>"$tmp/unreachable"; then
  fail "info against a closed port should fail"
fi
grep -q "cannot reach the server" "$tmp/unreachable" || fail "unclear error: $(cat "$tmp/unreachable")"

kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 0 ]] || fail "server exited with $rc after SIGTERM"
grep -q "shutting down" "$tmp/server.log" || fail "no shutdown log line"

# Searches run by a separate videogen_search_worker process sharing the server's data_dir.
sed 's|^data_dir: .*|data_dir: "'"$tmp"'/data2"|' "$tmp/server.textproto" > "$tmp/external.textproto"
echo "external_search_workers: true" >> "$tmp/external.textproto"
rm -f "$tmp/port"
"$server" --config="$tmp/external.textproto" --port_file="$tmp/port" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
vg=("$cli" --server="127.0.0.1:$(cat "$tmp/port")" --admin_token_file="$tmp/admin-token")
for _ in $(seq 1 100); do
  "${vg[@]}" health --service=videogen.v1.VideoGeneration >/dev/null 2>&1 && break
  sleep 0.1
done
search=$("${vg[@]}" searches submit "${search_key[@]}" --budgets=0.5 --population=4 \
  --generations=1 --parents=2 --seed=2) || fail "search submit (external workers)"
sleep 1
"${vg[@]}" searches get "$search" | grep -q "^state    queued" ||
  fail "the server ran a search although external workers run them"
"$worker" --config="$tmp/external.textproto" >"$tmp/worker.log" 2>&1 &
worker_pid=$!
"${vg[@]}" searches watch "$search" >"$tmp/search2.out" 2>/dev/null ||
  fail "the worker's search did not succeed: $(cat "$tmp/search2.out" "$tmp/worker.log")"
kill -TERM $worker_pid
rc=0; wait $worker_pid || rc=$?
[[ $rc -eq 0 ]] || fail "the worker exited with $rc after SIGTERM"
kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 0 ]] || fail "server (external workers) exited with $rc after SIGTERM"

# A model that cannot be loaded stops the server with an error naming it.
sed "s|$model|/nonexistent/tiny-wan|" "$tmp/server.textproto" > "$tmp/missing.textproto"
if "$server" --config="$tmp/missing.textproto" 2>"$tmp/missing.log"; then fail "missing model accepted"; fi
grep -q 'model "tiny-wan": cannot read /nonexistent/tiny-wan' "$tmp/missing.log" ||
  fail "unclear missing-model error: $(cat "$tmp/missing.log")"

echo 'max_queued_jobs: -3' > "$tmp/bad.textproto"
if "$server" --config="$tmp/bad.textproto" 2>"$tmp/bad.log"; then fail "bad config accepted"; fi
grep -q "max_queued_jobs" "$tmp/bad.log" || fail "bad-config error does not name the field: $(cat "$tmp/bad.log")"
echo "PASS"
