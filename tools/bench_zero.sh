#!/usr/bin/env bash
# bench_zero.sh [NP] [STEPS]: ZeRO stages 0-3 on NP ranks (default 2) for the tiny GPT-2 and an 8-layer
# d_model 256 LLaMA, STEPS steps each (default 30) on the fortunes corpus: mean tokens/s over the steps after
# the first, rank 0's peak memory in total and by category, and the model state next to its formula. Prints
# one table (the LLaMA with 2 MB buckets, about one block each, so that stage 2 stages a block at a time, not
# the whole model). Needs a build (tools/setup.sh) and the prepared corpus (tools/run_default.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
np="${1:-2}" steps="${2:-30}"
build="${TRIDENT_BUILD_DIR:-build}"
data="${TRIDENT_DATA_DIR:-data/fortunes}"
[ -f "$data/train.bin" ] || "$build/trident" data prepare --input /usr/share/games/fortunes --out "$data" > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # run NAME CONFIG [--set ...]
  local name="$1" config="$2"
  shift 2
  for stage in 0 1 2 3; do
    mpirun --oversubscribe -np "$np" "$build/trident" train "$config" --set data.train_path="$data/train.bin" \
      --set data.val_path="$data/val.bin" --set train.steps="$steps" --set optim.warmup_steps=5 \
      --set train.log_interval=1 --set train.eval_interval=0 --set train.sample_tokens=0 \
      --set parallel.zero_stage="$stage" "$@" --out "$out/$name-$stage" > "$out/$name-$stage.log" 2>&1
  done
}
run gpt2_tiny configs/gpt2_tiny.pbtxt
run llama_8x256 configs/llama_tiny.pbtxt --set model.n_layer=8 --set model.d_model=256 --set model.n_head=8 \
  --set parallel.bucket_mb=2 \
  --set model.n_kv_head=4
python3 - "$out" "$np" <<'PY'
import json, os, re, sys
out, np = sys.argv[1], sys.argv[2]
print(f"ZeRO stages on {np} ranks (CPU, 1 thread each): rank 0's numbers")
print(f"| model       | stage | tokens/s | peak MB | params MB | grads MB | optim MB | comm MB | gathered MB | state MB (formula) |")
print(f"|---|---|---|---|---|---|---|---|---|---|")
for name in ("gpt2_tiny", "llama_8x256"):
    for stage in range(4):
        d = f"{out}/{name}-{stage}"
        recs = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
        tok = [r["tokens_per_s"] for r in recs if "tokens_per_s" in r][1:]
        peak = next(r["peak_memory_bytes"] for r in recs if "peak_memory_bytes" in r)
        log = open(f"{d}.log").read()
        state = re.search(r"model state\s+([\d.]+)\s+([\d.]+)", log)
        mb = lambda k: peak[k] / 1e6
        print(f"| {name:<11} | {stage} | {sum(tok)/len(tok):8.0f} | {mb('total'):7.1f} | {mb('parameters'):9.2f} | "
              f"{mb('gradients'):8.2f} | {mb('optimizer state'):8.2f} | {mb('communication buffers'):7.2f} | "
              f"{mb('gathered units'):11.2f} | {state.group(1)} ({state.group(2)}) |")
PY
