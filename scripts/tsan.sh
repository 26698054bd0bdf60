#!/usr/bin/env bash
# Builds test_core with ThreadSanitizer (g++, -Og, assertions on, in build/tsan) and runs its
# [threads] cases: the worker pool under concurrent callers, products split over threads, and a
# training run with growth on two threads. Any data-race report fails the run. Arguments are
# passed on to the test executable in place of "[threads]". NEUROPLAST_JOBS sets the build
# parallelism (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/tsan"
"$root/scripts/sanitized-build.sh" "$build" "-fsanitize=thread -fno-omit-frame-pointer" \
  --target test_core
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}"
# Two workers at least, whatever the machine: the pool is what is under test.
NEUROPLAST_NUM_THREADS="${NEUROPLAST_NUM_THREADS:-2}" "$build/tests/test_core" "${@:-[threads]}"
