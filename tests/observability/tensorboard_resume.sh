#!/usr/bin/env bash
# tensorboard_resume.sh TRIDENT VENV OUT CONFIG [--set ...]: trains CONFIG for its steps with a checkpoint every
# 4 steps into OUT/run, then resumes the same run directory from the step-4 checkpoint, as after a crash. The
# steps after 4 are trained twice, but the run directory must show each step once: metrics.jsonl keeps only
# the rows up to step 4 before the resumed run's, and the resumed run's TensorBoard file starts with a session
# restart at step 5, so that the real tensorboard reader (check_tensorboard.py, over both event files) holds
# exactly metrics.jsonl's values.
set -euo pipefail
trident="$1" venv="$2" out="$3"
shift 3
rm -rf "$out"
mkdir -p "$out"
"$trident" train "$@" --set checkpoint.interval=4 --out "$out/run" >"$out/first.log" 2>&1 ||
  { cat "$out/first.log"; exit 1; }
"$trident" train "$@" --set checkpoint.interval=4 --out "$out/run" \
  --resume "$out/run/checkpoints/step_00000004" >"$out/resumed.log" 2>&1 || { cat "$out/resumed.log"; exit 1; }
grep -E "metrics.jsonl: [0-9]+ rows after step 4 dropped" "$out/resumed.log" ||
  { cat "$out/resumed.log"; echo "FAIL: the resumed run did not drop the first run's later rows"; exit 1; }
steps=$(python3 -c '
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if "loss" in json.loads(l)]
print(" ".join(map(str, steps)))' "$out/run/metrics.jsonl")
echo "training steps in metrics.jsonl: $steps"
[ "$steps" = "$(seq -s ' ' 1 8)" ] || { echo "FAIL: expected steps 1 to 8 once each"; exit 1; }
[ "$(ls "$out"/run/tb/events.out.tfevents.* | wc -l)" = 2 ] || { echo "FAIL: expected two event files"; exit 1; }
"$venv/bin/python" "$(dirname "$0")/check_tensorboard.py" "$out/run" loss,val_loss
