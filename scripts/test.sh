#!/usr/bin/env bash
# Installs what is missing, builds everything (tests, examples, benchmarks) in build/test in
# Release with assertions on (-O2, no -DNDEBUG) and runs every test with CTest; exits non-zero on any
# failure. Arguments are passed on to ctest, e.g. `scripts/test.sh -L fast` skips the [slow] tests.
# NEUROPLAST_JOBS sets the build parallelism (default 2), NEUROPLAST_TEST_JOBS how many tests run
# at once (default 2: the suite's tests are independent processes with their own files).
#
# A full run (no arguments) then runs the robustness steps of docs/reliability.md: the test suite
# under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh), the threading tests
# under ThreadSanitizer (scripts/tsan.sh) and the file loaders' fuzzers (scripts/fuzz.sh,
# NEUROPLAST_FUZZ_SECONDS each, default 60). A filtered run (any
# arguments) skips them, as does NEUROPLAST_ROBUSTNESS=0.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/test"

# Everything printed is also kept, so the run can end with one summary line over every ctest run.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
exec > >(tee "$log") 2>&1

# ccache caches the translation units that use the project's precompiled headers only with these
# sloppiness settings (cmake/ProjectSettings.cmake); without them it compiles them uncached.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
# Each step's start, with the minutes and seconds since the run began: where CI's time goes.
step() { echo "== test.sh [$((SECONDS / 60)) min $((SECONDS % 60)) s]: $*"; }
step "installing what is missing"
"$root/scripts/install-deps.sh" --tests
step "the main build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O2 \
  -DNEUROPLAST_BUILD_TESTS=ON -DNEUROPLAST_BUILD_EXAMPLES=ON -DNEUROPLAST_BUILD_BENCHMARKS=ON
cmake --build "$build" -j "${NEUROPLAST_JOBS:-2}"
step "the test suite"
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "${NEUROPLAST_TEST_JOBS:-2}" "$@"

if [ $# -eq 0 ] && [ "${NEUROPLAST_ROBUSTNESS:-1}" != 0 ]; then
  step "the test suite under AddressSanitizer + UndefinedBehaviorSanitizer"
  "$root/scripts/sanitize.sh"
  step "the threading tests under ThreadSanitizer"
  "$root/scripts/tsan.sh"
  step "fuzzing the file loaders"
  "$root/scripts/fuzz.sh"
fi
step "done"

# One closing line for all the ctest runs above (any failure has already stopped the script).
passed=$(grep -Eo 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | awk '{sum += $NF} END {print sum + 0}')
echo "test.sh: $passed passed, 0 failed"
