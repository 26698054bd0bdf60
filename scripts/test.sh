#!/usr/bin/env bash
# Installs what is missing, builds everything (tests, examples, benchmarks) in build/test in
# Release with assertions on (-O2, no -DNDEBUG) and runs every test with CTest; exits non-zero on any
# failure. Arguments are passed on to ctest, e.g. `scripts/test.sh -L fast` skips the [slow] tests.
# NEUROPLAST_JOBS sets the build parallelism (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/test"

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O2 \
  -DNEUROPLAST_BUILD_TESTS=ON -DNEUROPLAST_BUILD_EXAMPLES=ON -DNEUROPLAST_BUILD_BENCHMARKS=ON
cmake --build "$build" -j "${NEUROPLAST_JOBS:-2}"
ctest --test-dir "$build" --output-on-failure --no-tests=error "$@"
