#!/usr/bin/env bash
# The project's main job (README): set the machine up, build the server and the CLI, start the
# server on a free loopback port with the bundled default model, generate a video through the
# gRPC API with the `videogen` CLI (progress, ETA, tokens computed), fetch it again, and shut the
# server down cleanly.
#
#   tools/demo.sh [--prompt=TEXT] [--budget=B] [--output=PATH] [--model=DIR]
#                 [--height=128] [--width=128] [--frames=17] [--steps=20]
#
# The bundled model is the tiny random-weight Wan2.1 of tests/golden/wan_tiny (the same structure
# as Wan2.1, a few thousand parameters): it runs on any CPU in seconds and its video is noise.
# --model serves another diffusers-format Wan2.1 folder instead, e.g. Wan2.1-T2V-1.3B-Diffusers
# (then choose a size it was trained for, e.g. --height=480 --width=832 --frames=33; on a CPU
# that takes a long time).
set -euo pipefail
cd "$(dirname "$0")/.."

prompt="a red fox running through fresh snow, cinematic"
budget=0.5
output=$PWD/demo.mp4
model=$PWD/tests/golden/wan_tiny
height=128 width=128 frames=17 steps=20
for arg in "$@"; do
  case "$arg" in
    --prompt=*) prompt=${arg#*=} ;;
    --budget=*) budget=${arg#*=} ;;
    --output=*) output=${arg#*=} ;;
    --model=*) model=$(realpath "${arg#*=}") ;;
    --height=*) height=${arg#*=} ;;
    --width=*) width=${arg#*=} ;;
    --frames=*) frames=${arg#*=} ;;
    --steps=*) steps=${arg#*=} ;;
    *) echo "demo: unknown argument $arg" >&2; exit 2 ;;
  esac
done

tools/setup.sh
bazel build --noshow_progress //server:videogen_server //server/cli:videogen
bin=$(bazel info bazel-bin 2>/dev/null)
cli=("$bin/server/cli/videogen")

work=$(mktemp -d)
trap 'kill -9 "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "demo-admin-token" > "$work/admin-token"
cat > "$work/server.textproto" <<CONFIG
listen_address: "127.0.0.1:0"
metrics_port: 0
data_dir: "$work/data"
admin_token_file: "$work/admin-token"
shutdown_grace_period { seconds: 10 }
models { name: "demo" path: "$model" }
CONFIG

"$bin/server/videogen_server" --config="$work/server.textproto" --port_file="$work/port" &
pid=$!
for _ in $(seq 1 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { echo "demo: the server did not start" >&2; exit 1; }
cli+=(--server="127.0.0.1:$(cat "$work/port")")

echo "demo: waiting for the model to load"
for _ in $(seq 1 300); do
  "${cli[@]}" health --service=videogen.v1.VideoGeneration >/dev/null 2>&1 && break
  sleep 0.2
done
"${cli[@]}" health --service=videogen.v1.VideoGeneration
"${cli[@]}" info

echo "demo: videogen generate --budget=$budget --output=$output"
"${cli[@]}" generate --prompt="$prompt" --height="$height" --width="$width" --frames="$frames" \
  --steps="$steps" --budget="$budget" --output="$output"
echo "demo: videogen jobs (admin)"
"${cli[@]}" --admin_token_file="$work/admin-token" jobs

kill -TERM "$pid"
wait "$pid"
echo "demo: server stopped cleanly; the video is $output"
