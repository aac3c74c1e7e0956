#!/usr/bin/env bash
# run_layout.sh TRIDENT COMPARE REF_DIR OUT_DIR NP CONFIG [--set ...]: trains CONFIG on NP ranks (mpirun when
# NP > 1) into OUT_DIR, then compares it with the single-rank run in REF_DIR.
set -euo pipefail
trident="$1" compare="$2" ref="$3" out="$4" np="$5"
shift 5
rm -rf "$out"
if [ "$np" -gt 1 ]; then
  mpirun --oversubscribe -np "$np" "$trident" train "$@" --out "$out"
else
  "$trident" train "$@" --out "$out"
fi
"$compare" "$ref" "$out" --rtol 1e-5
