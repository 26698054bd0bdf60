#!/usr/bin/env bash
# Builds the libFuzzer targets of the two file loaders (clang, AddressSanitizer +
# UndefinedBehaviorSanitizer, in build/fuzz), writes a seed corpus of valid files, and runs both
# fuzzers side by side for NEUROPLAST_FUZZ_SECONDS seconds each (default 60). Exits non-zero on any
# crash, leak, timeout or sanitizer report, leaving the input in build/fuzz/artifacts/ (copy it to
# tests/fuzz/regressions/ once fixed). NEUROPLAST_FUZZ_SECONDS=0 builds and replays the corpus only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/fuzz"
seconds="${NEUROPLAST_FUZZ_SECONDS:-60}"

"$root/scripts/install-deps.sh"
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "${NEUROPLAST_JOBS:-2}"

rm -rf "$build/corpus" "$build/artifacts"
mkdir -p "$build/artifacts" "$build/work/load" "$build/work/load_safetensors"
"$build/make_corpus" "$build/corpus"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# -max_total_time=0 would mean "forever": 0 seconds replays the corpus once instead.
budget=(-max_total_time="$seconds")
[ "$seconds" = 0 ] && budget=(-runs=0)
pids=()
for target in load load_safetensors; do
  seeds="$build/corpus/load"
  [ "$target" = load_safetensors ] && seeds="$build/corpus/safetensors"
  # New inputs go to the first directory (build/work, kept between local runs); the seeds and the
  # regression inputs are only read.
  "$build/fuzz_$target" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
    "$build/work/$target" "$seeds" "$root/tests/fuzz/regressions" >"$build/fuzz_$target.log" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1; do
  target=$([ "$i" = 0 ] && echo load || echo load_safetensors)
  if wait "${pids[$i]}"; then
    echo "fuzz_$target: $(grep -E '^(stat::number_of_executed_units|Done)' "$build/fuzz_$target.log" | tr '\n' ' ')"
  else
    status=1
    echo "fuzz_$target FAILED; its log ends with:" >&2
    tail -n 60 "$build/fuzz_$target.log" >&2
    echo "The input is in $build/artifacts/; once fixed, copy it to tests/fuzz/regressions/." >&2
  fi
done
exit "$status"
