#!/usr/bin/env bash
# run_reference.sh TRIDENT COMPARE OUT_DIR CONFIG [--set ...]: the single-rank reference run of the equivalence
# tests, which must itself learn (compare_runs --learns): a reference that trained nothing would make every
# layout "equal" to it for the wrong reason.
set -euo pipefail
trident="$1" compare="$2" out="$3"
shift 3
rm -rf "$out"
"$trident" train "$@" --out "$out"
"$compare" --learns "$out"
