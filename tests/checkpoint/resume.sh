#!/usr/bin/env bash
# resume.sh TRIDENT COMPARE OUT NP CONFIG [--set ...]: trains CONFIG for its train.steps on NP ranks with a
# checkpoint every 7 steps (OUT/full), trains it again from the step-7 checkpoint (OUT/resumed), and requires
# every later loss, val loss, grad norm and final weight to be equal to the last bit (compare_runs --bitwise).
set -euo pipefail
trident="$1" compare="$2" out="$3" np="$4"
shift 4
launch=()
[ "$np" -gt 1 ] && launch=(mpirun --oversubscribe -np "$np")
rm -rf "$out"
mkdir -p "$out"
"${launch[@]}" "$trident" train "$@" --set checkpoint.interval=7 --out "$out/full" > "$out/full.log" 2>&1 ||
  { cat "$out/full.log"; exit 1; }
"${launch[@]}" "$trident" train "$@" --set checkpoint.interval=7 --out "$out/resumed" \
  --resume "$out/full/checkpoints/step_00000007" > "$out/resumed.log" 2>&1 || { cat "$out/resumed.log"; exit 1; }
grep -q "resumed from .* after step 7" "$out/resumed.log" || { echo "the second run did not resume"; exit 1; }
"$compare" "$out/full" "$out/resumed" --after-step 7 --bitwise
