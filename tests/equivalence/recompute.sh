#!/usr/bin/env bash
# recompute.sh TRIDENT COMPARE OUT NP CONFIG [--set ...]: activation recomputation changes memory, not results.
# Trains CONFIG on NP ranks with train.recompute none and full; every loss, val loss, grad norm and final weight
# must be equal to the last bit (compare_runs --bitwise), and rank 0's peak tensor memory must be lower with
# recomputation.
set -euo pipefail
trident="$1" compare="$2" out="$3" np="$4"
shift 4
rm -rf "$out"
mkdir -p "$out"
launch=()
[ "$np" -gt 1 ] && launch=(mpirun --oversubscribe -np "$np")
for mode in none full; do
  "${launch[@]}" "$trident" train "$@" --set train.recompute=$mode --out "$out/$mode" > "$out/$mode.log" 2>&1 ||
    { tail "$out/$mode.log"; echo "FAIL: the run with train.recompute $mode failed"; exit 1; }
done
"$compare" "$out/none" "$out/full" --bitwise
# Rank 0's peak of live tensor storage over the run (metrics.jsonl's memory_peak_bytes).
peak() { grep -o '"memory_peak_bytes":[0-9]*' "$1/metrics.jsonl" | cut -d: -f2 | sort -n | tail -1; }
none=$(peak "$out/none") full=$(peak "$out/full")
[ -n "$none" ] && [ -n "$full" ] || { echo "FAIL: no memory_peak_bytes in metrics.jsonl"; exit 1; }
echo "peak tensor memory, rank 0: $((none / 1024)) KiB without recomputation, $((full / 1024)) KiB with" \
  "($(( (none - full) * 100 / none ))% less)"
[ "$full" -lt "$none" ] || { echo "FAIL: recomputation did not lower the peak"; exit 1; }
