#!/usr/bin/env bash
# bench_checkpoint.sh [NP] [ZERO_STAGE]: checkpoint save and load of GPT-2 124M (bf16 with fp32 masters) on NP
# CPU ranks (default 2, ZeRO stage default 0): two steps with a checkpoint after each, saved synchronously and
# then asynchronously, and a resume of the step-1 checkpoint. Prints one table per rank: bytes written, save
# time, training stall, load time and bytes read, next to the formula (12 bytes per parameter: fp32 weights
# and AdamW's two moments, split over the ranks). Needs a build (tools/setup.sh) and the prepared corpus
# (tools/run_default.sh makes it); about 4 GB of disk under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
np="${1:-2}" stage="${2:-0}"
build="${TRIDENT_BUILD_DIR:-build}"
data="${TRIDENT_DATA_DIR:-data/fortunes}"
[ -f "$data/train.bin" ] || "$build/trident" data prepare --input /usr/share/games/fortunes --out "$data" > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TRIDENT_LOG_ALL_RANKS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(configs/gpt2_124m.pbtxt --set data.train_path="$data/train.bin" --set data.val_path="$data/val.bin"
  --set data.tokenizer=byte --set train.seq_len=64 --set train.micro_batch_size=1
  --set train.global_batch_size="$np" --set train.log_interval=1 --set train.eval_interval=0
  --set train.sample_tokens=0 --set optim.warmup_steps=1 --set parallel.zero_stage="$stage"
  --set runtime.device=cpu --set runtime.threads=1 --set checkpoint.interval=1)
for mode in sync async; do
  async=false
  [ "$mode" = async ] && async=true
  mpirun --oversubscribe -np "$np" "$build/trident" train "${common[@]}" --set train.steps=2 \
    --set checkpoint.async=$async --out "$out/$mode" > "$out/$mode.log" 2>&1 || { tail "$out/$mode.log"; exit 1; }
done
mpirun --oversubscribe -np "$np" "$build/trident" train "${common[@]}" --set train.steps=2 \
  --out "$out/load" --resume "$out/sync/checkpoints/step_00000001" > "$out/load.log" 2>&1 || { tail "$out/load.log"; exit 1; }
python3 - "$out" "$np" <<'PY'
import re, sys
out, np = sys.argv[1], int(sys.argv[2])
params = 124_475_904  # GPT-2 124M with the vocabulary padded to 50304 (model: line of the log)
save = r"checkpoint: step (\d+) saved to \S+ in ([\d.]+) s \(([\d.]+) MB from rank (\d+); training stalled ([\d.]+) s\)"
load = r"checkpoint: loaded \S+ in ([\d.]+) s \(([\d.]+) MB read by rank (\d+)\)"
print(f"GPT-2 124M checkpoints on {np} CPU ranks (bf16 model, fp32 masters and moments); formula: 12 B x "
      f"{params/1e6:.1f}M params / {np} ranks = {12*params/np/1e6:.0f} MB per rank")
print("| mode  | step | rank | written MB | save s | stall s | MB/s   |")
print("|-------|------|------|-----------:|-------:|--------:|-------:|")
for mode in ("sync", "async"):
    for line in open(f"{out}/{mode}.log"):
        m = re.search(save, line)
        if m:
            step, secs, mb, rank, stall = m.groups()
            print(f"| {mode:<5} | {step:>4} | {rank:>4} | {float(mb):>10.1f} | {float(secs):>6.2f} | {float(stall):>7.2f} | "
                  f"{float(mb)/max(float(secs),1e-9):>6.0f} |")
print()
print("| resume | rank | read MB | load s | MB/s   |")
print("|--------|------|--------:|-------:|-------:|")
for line in open(f"{out}/load.log"):
    m = re.search(load, line)
    if m:
        secs, mb, rank = m.groups()
        print(f"| step 1 | {rank:>4} | {float(mb):>7.1f} | {float(secs):>6.2f} | {float(mb)/max(float(secs),1e-9):>6.0f} |")
PY
