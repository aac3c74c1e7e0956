#!/usr/bin/env bash
# zero3_trace.sh TRIDENT OUT_DIR CONFIG [--set ...]: trains CONFIG at ZeRO stage 3 on 2 ranks into OUT_DIR and
# checks the step's Chrome trace: unit all-gathers on the communication row, units' forwards on the compute
# row.
set -euo pipefail
trident="$1" out="$2"
shift 2
rm -rf "$out"
mpirun --oversubscribe -np 2 "$trident" train "$@" --set parallel.zero_stage=3 --out "$out" > "$out.log" 2>&1 ||
  { cat "$out.log"; exit 1; }
trace="$out/step_trace.json"
for want in '"cat":"all_gather"' 'ZeRO communication' '"cat":"unit forward"' '"cat":"reduce_scatter"'; do
  grep -q "$want" "$trace" || { echo "FAIL: $trace has no $want"; exit 1; }
done
echo "ok: $(grep -o '"cat":"all_gather"' "$trace" | wc -l) all-gathers in $trace"
