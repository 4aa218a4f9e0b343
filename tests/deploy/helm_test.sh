#!/usr/bin/env bash
# The Helm chart (deploy/helm/videogen), without a cluster: `helm lint` passes with every values
# file under its ci/; each renders (`helm template`), passes yamllint and the Kubernetes 1.30 API
# schemas (kubernetes-validate, offline), holds the config it promises, and its server config
# loads as the server loads it.
set -euo pipefail

helm="$1" yamllint="$2" validate="$3" check_config="$4"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# helm does not follow the runfiles' symlinked files: work on a real copy.
cp -rL deploy/helm/videogen "$tmp/chart"
values_files=("$tmp"/chart/ci/*-values.yaml)
((${#values_files[@]} >= 4)) || fail "expected at least 4 values files, found ${values_files[*]}"
configs=()
for values in "${values_files[@]}"; do
  name=$(basename "$values" -values.yaml)
  "$helm" lint --strict "$tmp/chart" -f "$values" >"$tmp/$name.lint" 2>&1 ||
    fail "$name: helm lint: $(cat "$tmp/$name.lint")"
  "$helm" template videogen "$tmp/chart" -f "$values" >"$tmp/$name.yaml" 2>"$tmp/$name.err" ||
    fail "$name does not render: $(cat "$tmp/$name.err")"
  "$yamllint" --strict -c deploy/.yamllint "$tmp/$name.yaml" || fail "$name: yamllint"
  "$validate" --kubernetes-version 1.30.0 "$tmp/$name.yaml" >"$tmp/$name.validate" 2>&1 ||
    fail "$name: objects fail the Kubernetes 1.30 schemas: $(grep -v '^INFO' "$tmp/$name.validate")"
  # ServiceMonitor is the Prometheus Operator's own kind, without a schema in Kubernetes.
  if (($(grep -v "^INFO" "$tmp/$name.validate" | grep -vc "kind ServiceMonitor"))); then
    fail "$name: $(grep -v '^INFO' "$tmp/$name.validate")"
  fi
  # The ConfigMap's server.textproto, as the pod reads it.
  "$helm" template videogen "$tmp/chart" -f "$values" --show-only templates/configmap.yaml |
    sed -n '/server.textproto: |/,$p' | tail -n +2 | sed 's/^    //' >"$tmp/$name.textproto"
  configs+=("$tmp/$name.textproto")
  echo "ok: $name ($(grep -c '^kind:' "$tmp/$name.yaml") objects)"
done
"$check_config" "${configs[@]}" || fail "a rendered server config does not load"

# What the values promise.
has() { grep -q -- "$2" "$tmp/$1.yaml" || fail "$1: no '$2'"; }
lacks() { ! grep -q -- "$2" "$tmp/$1.yaml" || fail "$1: unexpected '$2'"; }
has default "nvidia.com/gpu: 1"
has default "service: videogen.v1.VideoGeneration"
has default "claimName: videogen-models"
has default "terminationGracePeriodSeconds: 90"
lacks default "engine_layout"
lacks default "kind: ServiceMonitor"
lacks default "videogen-search-worker"
has gpu-8 "nvidia.com/gpu: 8"
has gpu-8 "sizeLimit: 32Gi"
lacks gpu-8 "engine_layout"
has gpu-8-throughput "engine_layout { devices_per_group: 1 }"
has everything "image: registry.example.com/videogen:0.1.0"
has everything 'tls { cert_file: "/etc/videogen/tls/tls.crt"'
has everything "secretName: videogen-tls"
has everything "tcpSocket:"
lacks everything "grpc:$"
has everything "path: /var/lib/videogen-models"
lacks everything "name: videogen-models$"
has everything "external_search_workers: true"
has everything "name: videogen-search-worker"
has everything "kind: ServiceMonitor"
has everything "max_queued_jobs: 16"
has everything "limits { min_budget: 0.3 }"
has everything "storageClassName: local-nvme"
has everything "terminationGracePeriodSeconds: 150"
has everything 'models { name: "demo" path: "/models/demo" }'
echo "PASS (${#values_files[@]} values files)"
