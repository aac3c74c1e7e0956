#!/usr/bin/env bash
# run_reference.sh TRIDENT COMPARE OUT_DIR NP CONFIG [--set ...]: a reference run of the equivalence tests, on
# NP ranks (mpirun when NP > 1), which must itself learn (compare_runs --learns): a reference that trained
# nothing would make every layout "equal" to it for the wrong reason.
set -euo pipefail
trident="$1" compare="$2" out="$3" np="$4"
shift 4
rm -rf "$out"
if [ "$np" -gt 1 ]; then
  mpirun --oversubscribe -np "$np" "$trident" train "$@" --out "$out"
else
  "$trident" train "$@" --out "$out"
fi
"$compare" --learns "$out"
