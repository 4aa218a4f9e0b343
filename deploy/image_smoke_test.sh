#!/usr/bin/env bash
# Checks a built image end to end on any Docker host, GPU or not: starts it on the CPU with the
# tiny Wan2.1 of tests/golden/wan_tiny as its model, waits for the image's own HEALTHCHECK to
# report healthy, generates a video through the gRPC API with the bundled CLI, checks the MP4,
# and stops the container, which must drain and exit cleanly.
#
#   deploy/image_smoke_test.sh [IMAGE]        (default videogen:0.1.0)
set -euo pipefail
cd "$(dirname "$0")/.."

image="${1:-videogen:0.1.0}"
name="videogen-smoke-$$"
fail() { echo "image_smoke_test: FAIL: $*" >&2; docker logs "$name" 2>&1 | tail -20 >&2; exit 1; }
work=$(mktemp -d)
trap 'docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cat > "$work/server.textproto" <<'CONFIG'
data_dir: "/var/lib/videogen"
shutdown_grace_period { seconds: 10 }
models { name: "demo" path: "/models/demo" }
CONFIG
chmod -R a+rX "$work"

# The HEALTHCHECK's interval is 30 s; the check itself is the image's command, unchanged.
docker run -d --name "$name" \
  -v "$PWD/tests/golden/wan_tiny:/models/demo:ro" \
  -v "$work/server.textproto:/etc/videogen/server.textproto:ro" \
  --health-interval=2s "$image" >/dev/null
for _ in $(seq 1 150); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$name")
  [[ "$health" == healthy || "$health" == unhealthy ]] && break
  [[ "$(docker inspect -f '{{.State.Running}}' "$name")" == true ]] || fail "the server exited"
  sleep 1
done
[[ "$health" == healthy ]] || fail "the container's health is '$health'"
echo "image_smoke_test: healthy"

cli=(docker exec "$name" videogen --server=127.0.0.1:50051)
"${cli[@]}" generate --prompt="a red circle moves left" --height=32 --width=32 --frames=9 \
  --steps=4 --output=/var/lib/videogen/smoke.mp4 || fail "generate"
docker cp "$name:/var/lib/videogen/smoke.mp4" "$work/smoke.mp4"
[[ "$(head -c 8 "$work/smoke.mp4" | tail -c 4)" == ftyp ]] || fail "the result is not an MP4"
echo "image_smoke_test: generated an MP4 of $(stat -c %s "$work/smoke.mp4") bytes"

docker stop -t 30 "$name" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
[[ "$code" == 0 ]] || fail "the server exited with $code on SIGTERM"
echo "image_smoke_test: PASS ($image)"
