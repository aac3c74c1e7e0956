#!/usr/bin/env bash
# tensorboard_off.sh TRIDENT OUT CONFIG [--set ...]: with logging.tensorboard false a run writes no tb/.
set -euo pipefail
trident="$1" out="$2"
shift 2
rm -rf "$out"
"$trident" train "$@" --set logging.tensorboard=false --out "$out" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
[ -f "$out/metrics.jsonl" ] || { echo "FAIL: no metrics.jsonl"; exit 1; }
if [ -e "$out/tb" ]; then echo "FAIL: logging.tensorboard=false still wrote $out/tb"; exit 1; fi
echo "ok: metrics.jsonl and no tb/"
