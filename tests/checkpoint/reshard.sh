#!/usr/bin/env bash
# reshard.sh TRIDENT COMPARE OUT NP_A [--set ... of layout A] -- NP_B [--set ... of layout B] -- CONFIG [--set ...]
# Trains CONFIG under layout A for its train.steps with a checkpoint after step 7 (OUT/full), then resumes that
# checkpoint under layout B (OUT/resharded) and requires every later loss, val loss and final weight to match
# the uninterrupted run within compare_runs' bars (1e-5): the checkpoint is resharded on load, each rank of B
# reading the pieces it needs.
set -euo pipefail
trident="$1" compare="$2" out="$3"
shift 3
np_a="$1"
shift
a=()
while [ "$1" != -- ]; do a+=("$1"); shift; done
shift
np_b="$1"
shift
b=()
while [ "$1" != -- ]; do b+=("$1"); shift; done
shift
launch() {
  local np="$1"
  shift
  if [ "$np" -gt 1 ]; then mpirun --oversubscribe -np "$np" "$@"; else "$@"; fi
}
rm -rf "$out"
mkdir -p "$out"
launch "$np_a" "$trident" train "$@" "${a[@]}" --set checkpoint.interval=7 --out "$out/full" > "$out/full.log" 2>&1 ||
  { cat "$out/full.log"; exit 1; }
launch "$np_b" "$trident" train "$@" "${b[@]}" --out "$out/resharded" \
  --resume "$out/full/checkpoints/step_00000007" > "$out/resharded.log" 2>&1 || { cat "$out/resharded.log"; exit 1; }
grep -q "resharding .* from layout" "$out/resharded.log" || { echo "no resharding reported"; cat "$out/resharded.log"; exit 1; }
grep -q "resumed from .* after step 7" "$out/resharded.log" || { echo "the second run did not resume"; exit 1; }
"$compare" "$out/full" "$out/resharded" --after-step 7
