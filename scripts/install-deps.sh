#!/usr/bin/env bash
# Installs the Debian packages neuroplast needs that are not installed yet; installs nothing (and
# does not touch apt) when all are present. Runs apt-get as root, or through sudo otherwise.
# `--tests` (scripts/test.sh) adds what only the tests use.
set -euo pipefail

# Everything demo.sh and test.sh need, all from Debian; nothing is downloaded at build time.
packages=(
  cmake make g++ ccache          # build tools (ccache only speeds up rebuilds)
  libeigen3-dev zlib1g-dev libstb-dev
  catch2 libbenchmark-dev        # tests and benchmarks
  libcli11-dev                   # neuroplast-train's command line (the tool only)
  clang libclang-rt-dev          # scripts/fuzz.sh: libFuzzer and the sanitizer runtimes for clang
  dataset-fashion-mnist          # /usr/share/datasets/fashion-mnist: the demo and the [slow] tests
  python3 python3-numpy          # tests read the library's CSV and JSON Lines logs back in Python
  python3-onnx                   # the onnx checker runs on save_onnx's models
  pybind11-dev python3-dev python3-pytest  # the Python module (python/) and its tests
  doxygen                        # the API reference, and the test that it builds without warnings
  openmpi-bin libopenmpi-dev     # neuroplast::mpi (data-parallel training) and its tests
)
# PyTorch, for the to_torch / from_torch round trips of the Python tests (167 packages, 604 MB,
# 52 s here), and matplotlib, for the plot of the Python example's test (25 more packages, 86 MB,
# 16 s); the library and the demo never need them.
if [[ ${1:-} == --tests ]]; then
  packages+=(python3-torch python3-matplotlib)
elif [ $# -gt 0 ]; then
  echo "install-deps: unknown argument $1 (the only one is --tests)" >&2
  exit 2
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$pkg")
done
# Node.js runs ONNX Runtime for the save_onnx test. Any node and npm will do (a machine may have
# them from elsewhere, whose packages Debian's npm would conflict with): Debian's only if absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "install-deps: ${missing[*]} missing; run as root or install sudo" >&2
      exit 1
    fi
    as_root=(sudo)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for the tests only, from the npm registry, into build/npm (not the library's
# dependency). --ignore-scripts: the package ships its CPU binaries; its install script would only
# fetch optional GPU ones from elsewhere. Without it the ONNX Runtime test reports itself skipped.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
onnxruntime_version=1.30.0
if [ ! -f "$root/build/npm/node_modules/onnxruntime-node/package.json" ] ||
   ! grep -q "\"version\": \"$onnxruntime_version\"" \
     "$root/build/npm/node_modules/onnxruntime-node/package.json"; then
  echo "install-deps: installing onnxruntime-node $onnxruntime_version (npm) into build/npm" >&2
  mkdir -p "$root/build/npm"
  npm install --prefix "$root/build/npm" --ignore-scripts --no-audit --no-fund --loglevel=error \
    "onnxruntime-node@$onnxruntime_version" >&2 ||
    echo "install-deps: could not install onnxruntime-node; the ONNX Runtime test will be skipped" >&2
fi
