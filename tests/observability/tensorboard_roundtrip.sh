#!/usr/bin/env bash
# tensorboard_roundtrip.sh TRIDENT VENV OUT NP REQUIRED_TAGS CONFIG [--set ...]: trains CONFIG on NP ranks into
# OUT/run, then reads OUT/run/tb back with the real tensorboard package (check_tensorboard.py) and requires
# every tag, step and value of metrics.jsonl there, and the comma-separated REQUIRED_TAGS among them.
set -euo pipefail
trident="$1" venv="$2" out="$3" np="$4" required="$5"
shift 5
launch=()
[ "$np" -gt 1 ] && launch=(mpirun --oversubscribe -np "$np")
rm -rf "$out"
mkdir -p "$out"
"${launch[@]}" "$trident" train "$@" --out "$out/run" > "$out/train.log" 2>&1 || { cat "$out/train.log"; exit 1; }
grep -q "TensorBoard: tensorboard --logdir $out/run/tb" "$out/train.log" ||
  { cat "$out/train.log"; echo "FAIL: the run did not say where its TensorBoard files are"; exit 1; }
"$venv/bin/python" "$(dirname "$0")/check_tensorboard.py" "$out/run" "$required"
