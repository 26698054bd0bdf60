#!/usr/bin/env bash
# Installs the Debian packages neuroplast needs that are not installed yet; installs nothing (and
# does not touch apt) when all are present. Runs apt-get as root, or through sudo otherwise.
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
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

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
