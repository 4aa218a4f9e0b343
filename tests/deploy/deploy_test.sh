#!/usr/bin/env bash
# The deployment artifacts, without a cluster or a container runtime:
#  - every kustomization under deploy/k8s renders (`kubectl kustomize`) and its objects pass the
#    Kubernetes 1.30 API schemas (kubernetes-validate, offline; a broken object is caught);
#  - the manifests pass yamllint and the Dockerfile hadolint;
#  - the Dockerfile's build stage runs the README's setup script and the GPU bundle's build, and
#    collects libraries with the same script; its CUDA toolkit has torch's CUDA runtime;
#  - that script's selection of shared libraries covers what the server, the search worker and
#    the CLI load: each resolves to it, to LibTorch, or to what every machine provides.
set -euo pipefail

hadolint="$1" yamllint="$2" validate="$3"
shift 3
binaries=("$@")
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v kubectl >/dev/null || fail "kubectl is not installed (tools/setup.sh installs it)"

# --- Kubernetes ---------------------------------------------------------------------------------
# kustomize does not follow the runfiles' symlinked files: render a real copy.
cp -rL deploy/k8s "$tmp/k8s"
kustomizations=("$tmp/k8s/base" "$tmp"/k8s/overlays/*)
((${#kustomizations[@]} >= 6)) || fail "expected the base and its overlays, found ${kustomizations[*]}"
for dir in "${kustomizations[@]}"; do
  name=$(basename "$dir")
  kubectl kustomize "$dir" > "$tmp/$name.yaml" 2>"$tmp/$name.err" ||
    fail "$dir does not render: $(cat "$tmp/$name.err")"
  # ServiceMonitor is the Prometheus Operator's own kind, without a schema in Kubernetes.
  "$validate" --kubernetes-version 1.30.0 "$tmp/$name.yaml" >"$tmp/$name.validate" 2>&1 ||
    fail "$dir: objects fail the Kubernetes 1.30 schemas: $(grep -v '^INFO' "$tmp/$name.validate")"
  # (grep -c reads all its input: grep -q would end the pipeline early, which pipefail reports.)
  if (($(grep -v "^INFO" "$tmp/$name.validate" | grep -vc "kind ServiceMonitor"))); then
    fail "$dir: $(grep -v '^INFO' "$tmp/$name.validate")"
  fi
  grep -q "kind: Deployment" "$tmp/$name.yaml" || fail "$dir renders no Deployment"
  echo "ok: ${dir#"$tmp"/} ($(grep -c '^kind:' "$tmp/$name.yaml") objects)"
done
# The validator must catch a broken object (a string where replicas takes an integer).
sed 's/^  replicas: 1$/  replicas: "one"/' "$tmp/base.yaml" > "$tmp/broken.yaml"
grep -q 'replicas: "one"' "$tmp/broken.yaml" || fail "could not break the base for the control"
if "$validate" --kubernetes-version 1.30.0 "$tmp/broken.yaml" >/dev/null 2>&1; then
  fail "the schema validator accepted replicas: \"one\""
fi
# What the overlays promise.
grep -q "nvidia.com/gpu: 8" "$tmp/gpu-8.yaml" || fail "gpu-8 does not request 8 GPUs"
grep -q "engine_layout { devices_per_group: 1 }" "$tmp/gpu-8-throughput.yaml" ||
  fail "gpu-8-throughput does not split the GPUs"
grep -q "external_search_workers: true" "$tmp/search-workers.yaml" &&
  grep -q "name: videogen-search-worker" "$tmp/search-workers.yaml" ||
  fail "search-workers lacks the worker or the config switch"
grep -q "kind: ServiceMonitor" "$tmp/prometheus-operator.yaml" || fail "no ServiceMonitor"
[[ $(grep -c "kind: PersistentVolumeClaim" "$tmp/hostpath-models.yaml") == 1 ]] &&
  grep -q "path: /var/lib/videogen-models" "$tmp/hostpath-models.yaml" ||
  fail "hostpath-models keeps the models claim or lacks the host path"
grep -q "tls { cert_file" "$tmp/tls.yaml" && grep -q "secretName: videogen-tls" "$tmp/tls.yaml" ||
  fail "tls lacks the config or the secret"
# The grace period covers the config's drain (shutdown_grace_period 60 s).
grep -q "terminationGracePeriodSeconds: 90" "$tmp/base.yaml" || fail "grace period changed"

"$yamllint" --strict -c deploy/.yamllint deploy/k8s || fail "yamllint"
"$hadolint" deploy/Dockerfile || fail "hadolint"

# --- The image and the README stay in sync -----------------------------------------------------
grep -q "tools/setup.sh" tools/test.sh && grep -q "tools/setup.sh" tools/demo.sh ||
  fail "the README's commands no longer run tools/setup.sh"
grep -q "RUN tools/setup.sh" deploy/Dockerfile || fail "the Dockerfile does not run tools/setup.sh"
grep -q "RUN tools/cuda_toolkit.sh" deploy/Dockerfile ||
  fail "the Dockerfile does not install the CUDA toolkit with tools/cuda_toolkit.sh"
# The toolkit the image compiles with has the CUDA runtime that torch loads (setup.sh's pin).
runtime_pin=$(grep -o "nvidia-cuda-runtime==[0-9.]*" tools/setup.sh || true)
[[ -n "$runtime_pin" ]] && grep -q "$runtime_pin" tools/cuda_toolkit.sh ||
  fail "tools/cuda_toolkit.sh does not pin torch's CUDA runtime (${runtime_pin:-none in setup.sh})"
build_flags="--config=cuda --dynamic_mode=off"
grep -q "bazel build $build_flags" deploy/Dockerfile ||
  fail "the Dockerfile's build differs from the GPU bundle's ($build_flags)"
grep -q "bazel build $build_flags" tools/gpu_bundle.sh || fail "the GPU bundle's build flags changed"
grep -q "tools/runtime_libs.sh --torch-lib" deploy/Dockerfile &&
  grep -q "tools/runtime_libs.sh --torch-lib" tools/gpu_bundle.sh ||
  fail "the Dockerfile and the GPU bundle collect libraries differently"
for binary in videogen_server videogen videogen_search_worker; do
  grep -q "/opt/videogen/bin/\|bazel-bin/.*$binary" deploy/Dockerfile || fail "the image lacks $binary"
done

# --- Runtime libraries ---------------------------------------------------------------------------
torch_lib=$(dirname "$(readlink -f "$(ldd "${binaries[0]}" | awk '$1 == "libc10.so" {print $3}')")")
[[ -f "$torch_lib/libc10.so" ]] || fail "cannot find LibTorch from ${binaries[0]}"
tools/runtime_libs.sh --torch-lib "$torch_lib" --out "$tmp/lib" "${binaries[@]}" ||
  fail "collecting the runtime libraries failed"
tools/runtime_libs.sh --torch-lib "$torch_lib" --check "$tmp/lib" "${binaries[@]}" ||
  fail "the collected libraries do not cover the binaries"
compgen -G "$tmp/lib/libgrpc++*" >/dev/null || fail "gRPC is not among the collected libraries"
echo "PASS ($(ls "$tmp/lib" | wc -l) libraries collected)"
