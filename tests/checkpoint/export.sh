#!/usr/bin/env bash
# export.sh TRIDENT OUT NP CONFIG [--set ...]: a run on NP ranks whose last step is checkpointed; `checkpoint
# inspect` verifies every checksum, and `checkpoint export` of that checkpoint (pieces from every rank, each
# tensor assembled at its global shape) is byte for byte the model.safetensors the run gathered itself, and
# so is `export hf` of the checkpoint against `export hf` of the run directory.
set -euo pipefail
trident="$1" out="$2" np="$3"
shift 3
launch=()
[ "$np" -gt 1 ] && launch=(mpirun --oversubscribe -np "$np")
rm -rf "$out"
mkdir -p "$out"
"${launch[@]}" "$trident" train "$@" --set train.steps=6 --set checkpoint.interval=3 --out "$out/run" \
  > "$out/run.log" 2>&1 || { cat "$out/run.log"; exit 1; }
"$trident" checkpoint inspect "$out/run" > "$out/inspect.txt"
grep -q "step 6 " "$out/inspect.txt" || { cat "$out/inspect.txt"; echo "inspect did not find step 6 through latest"; exit 1; }
grep -q "verified: all [0-9]* pieces" "$out/inspect.txt" || { cat "$out/inspect.txt"; exit 1; }
"$trident" checkpoint export "$out/run/checkpoints/step_00000006" "$out/exported.safetensors"
cmp "$out/exported.safetensors" "$out/run/model.safetensors" ||
  { echo "the export differs from the run's own model.safetensors"; exit 1; }
# export hf takes the checkpoint as well as the run directory, with the same result.
"$trident" export hf "$out/run/checkpoints/step_00000006" "$out/hf_checkpoint" > /dev/null
"$trident" export hf "$out/run" "$out/hf_run" > /dev/null
for f in config.json model.safetensors; do
  cmp "$out/hf_checkpoint/$f" "$out/hf_run/$f" || { echo "export hf: $f differs between checkpoint and run"; exit 1; }
done
echo "export: byte-identical to the run's model.safetensors; export hf the same from either"
