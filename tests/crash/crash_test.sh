#!/usr/bin/env bash
# The crash test (docs/reliability.md): for each policy, a child (crash_train) trains with a
# trainer checkpoint after every epoch and is killed with SIGKILL at random moments, then started
# again, which resumes from the checkpoint, until a run finishes. After every kill the checkpoint
# on disk must be absent or readable; at the end the run's fingerprint (network file with optimizer
# state, step count, history without wall-clock times) must equal that of a run never killed.
#
#   crash_test.sh <crash_train binary> <work dir> [kills per policy, default 6] [seed]
set -euo pipefail

bin=$1
work=$2
kills_wanted=${3:-6}
if [ "$kills_wanted" -lt 1 ]; then
  echo "crash_test: kills per policy must be at least 1" >&2
  exit 2
fi
RANDOM=${4:-12345}
mkdir -p "$work"

total_kills=0
for policy in static dropin dropout neuroplastic; do
  ref_ckpt="$work/$policy.ref.ckpt"
  rm -f "$ref_ckpt" "$work/$policy.ref.txt"
  start=$(date +%s%N)
  "$bin" run "$policy" "$ref_ckpt" "$work/$policy.ref.txt"
  run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  span_ms=$(( run_ms > 20 ? run_ms : 20 ))

  # A trial starts without a checkpoint and ends with a run that finishes; until kills_wanted kills
  # have landed, every run is killed after a random delay of up to a quarter of an uninterrupted
  # run, so a trial usually takes several kills. Every trial's result is compared.
  ckpt="$work/$policy.ckpt"
  kills=0
  trials=0
  while [ $kills -lt "$kills_wanted" ]; do
    trials=$((trials + 1))
    if [ $trials -gt 20 ]; then
      echo "crash_test: $policy: only $kills kills landed in 20 trials" >&2
      exit 1
    fi
    rm -f "$ckpt" "$work/$policy.txt"
    while true; do
      "$bin" run "$policy" "$ckpt" "$work/$policy.txt" &
      child=$!
      if [ $kills -lt "$kills_wanted" ]; then
        delay_ms=$(( 5 + RANDOM % (span_ms / 4 + 1) ))
        sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
        kill -9 "$child" 2>/dev/null || true
      fi
      set +e
      wait "$child"
      rc=$?
      set -e
      if [ $rc -eq 137 ]; then
        kills=$((kills + 1))
        if ! "$bin" check "$ckpt"; then
          echo "crash_test: $policy: the checkpoint is unreadable after kill $kills" >&2
          exit 1
        fi
        continue
      fi
      if [ $rc -ne 0 ]; then
        echo "crash_test: $policy: a resumed run failed (exit status $rc)" >&2
        exit 1
      fi
      break
    done
    if ! cmp -s "$work/$policy.ref.txt" "$work/$policy.txt"; then
      echo "crash_test: $policy: a run killed $kills times differs from the uninterrupted one:" >&2
      diff "$work/$policy.ref.txt" "$work/$policy.txt" | head -20 >&2
      exit 1
    fi
  done
  echo "crash_test: $policy: killed $kills times in $trials trial(s) (a run takes ${run_ms} ms), every result identical"
  total_kills=$((total_kills + kills))
done
echo "crash_test: $total_kills kills in all, every resumed run identical to the uninterrupted one"
