#!/usr/bin/env bash
# Configures and builds the tests (no examples or benchmarks) with g++ under the sanitizers given,
# at -Og with line tables and assertions on: the shared first half of sanitize.sh and tsan.sh.
# Usage: sanitized-build.sh BUILD_DIR "SANITIZER_FLAGS" [cmake --build arguments, e.g. --target X].
# NEUROPLAST_JOBS sets the build parallelism (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1
sanitizers=$2
shift 2
# -g1: line tables are all a sanitizer's stack trace needs, and full debug info of these
# template-heavy tests costs much compile time. -Og, not -O1: test_core's instrumented build took
# 81 s against 111 s and its run 12 s against 10 s (2026-12-06), and this build is CI's largest step.
# GCC's flow-based warnings misfire on instrumented code (in libstdc++'s own headers); the main
# build (scripts/test.sh) enforces them.
quiet="-Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow"
# Without MPI: its test is not run under the sanitizers (Open MPI's own allocations at init and
# finalize read as leaks), so it is not built either.

# ccache caches the translation units that use the project's precompiled headers only with these
# sloppiness settings (cmake/ProjectSettings.cmake); without them it compiles them uncached.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-Og -g1" -DCMAKE_CXX_FLAGS="$sanitizers $quiet" \
  -DCMAKE_EXE_LINKER_FLAGS="$sanitizers" \
  -DNEUROPLAST_BUILD_TESTS=ON -DNEUROPLAST_BUILD_EXAMPLES=OFF -DNEUROPLAST_BUILD_BENCHMARKS=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DNEUROPLAST_BUILD_PYTHON=OFF
cmake --build "$build" -j "${NEUROPLAST_JOBS:-2}" "$@"
