#!/usr/bin/env bash
# Installs what is missing, builds the Fashion-MNIST example (Release, build/release) and runs it.
# Arguments are passed on to the example. NEUROPLAST_JOBS sets the build parallelism (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/release"

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DNEUROPLAST_BUILD_TESTS=OFF -DNEUROPLAST_BUILD_BENCHMARKS=OFF -DNEUROPLAST_BUILD_EXAMPLES=ON
cmake --build "$build" --target fashion_mnist -j "${NEUROPLAST_JOBS:-2}"
exec "$build/examples/fashion_mnist" "$@"
