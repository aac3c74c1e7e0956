#!/usr/bin/env bash
# The single entry point for GPU checks: on a machine with a GPU, report what the machine has, build Trident
# with CUDA, run the `gpu`-labelled tests, the GPU benchmarks (GPT-2 124M and LLaMA 1B against PyTorch eager
# and torch.compile), a short GPU training run against the CPU run of the same config, and the same run as two
# data-parallel MPI ranks sharing the GPU; then print ONE table with every check's result and numbers.
#
# Every step runs under `timeout` and logs to $LOG_DIR/<step>.log; a failed or timed-out step is a row in the
# table, never the end of the script. Says plainly what is missing instead of failing half-way.
#
#   tools/gpu_check.sh                   everything (build, ctest, bench, train)
#   tools/gpu_check.sh ctest bench       only those parts (each needs a finished build in $BUILD_DIR)
#
# Environment (defaults in brackets):
#   TRIDENT_GPU_BUILD_DIR [build-gpu]    TRIDENT_GPU_LOG_DIR [/tmp/trident_gpu_check]
#   TRIDENT_GPU_JOBS [nproc]             build parallelism
#   TRIDENT_GPU_BENCH_STEPS [10]         timed steps per benchmark (after 3 warmup steps)
#   TRIDENT_GPU_TRAIN_STEPS [20]         steps of the gpt2_tiny CPU / GPU / dp=2 runs
#   TRIDENT_GPU_LLAMA_MICRO ["8 4 2"]    llama_1b micro-batch sizes tried in order until one fits in memory
#   TRIDENT_GPU_DATA_DIR [$BUILD_DIR/gpu_check_data]  token shards for the training runs, made if missing
#                                        (data/fortunes is used when it exists)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD_DIR="${TRIDENT_GPU_BUILD_DIR:-build-gpu}"
LOG_DIR="${TRIDENT_GPU_LOG_DIR:-/tmp/trident_gpu_check}"
JOBS="${TRIDENT_GPU_JOBS:-$(nproc)}"
BENCH_STEPS="${TRIDENT_GPU_BENCH_STEPS:-10}"
TRAIN_STEPS="${TRIDENT_GPU_TRAIN_STEPS:-20}"
LLAMA_MICRO="${TRIDENT_GPU_LLAMA_MICRO:-8 4 2}"
TRIDENT="$BUILD_DIR/trident"
mkdir -p "$LOG_DIR" && LOG_DIR=$(cd "$LOG_DIR" && pwd)

PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(build ctest bench train)
want() {
  local p
  for p in "${PARTS[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}

declare -a rows
row() { rows+=("$(printf '| %-34s | %-8s | %s' "$1" "$2" "$3")"); }

have() { command -v "$1" >/dev/null 2>&1; }

# run NAME SECONDS CMD...: CMD under timeout, output to $LOG_DIR/NAME.log; returns CMD's status (124: timed
# out). Prints the command first, so each log says what ran.
run() {
  local name=$1 secs=$2
  shift 2
  {
    printf '$'
    printf ' %q' "$@"
    printf '\n'
  } >"$LOG_DIR/$name.log"
  timeout --kill-after=15 "$secs" "$@" >>"$LOG_DIR/$name.log" 2>&1
}

# status RC: ok, TIMEOUT or FAILED for a step's exit status.
status() {
  case $1 in
    0) echo ok ;;
    124 | 137) echo TIMEOUT ;;
    *) echo FAILED ;;
  esac
}

# The last line of a log that matches a pattern (for the table's detail column).
last_match() { grep -E "$2" "$LOG_DIR/$1.log" 2>/dev/null | tail -1; }

# ---- What the machine has ---------------------------------------------------------------------------------
if have nvcc; then row "nvcc" "ok" "$(nvcc --version | tail -1)"; else row "nvcc" "MISSING" "CUDA toolkit not on PATH"; fi
if have nvidia-smi; then
  row "GPU" "ok" "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
else
  row "GPU" "MISSING" "nvidia-smi not found"
fi
if have mpirun; then row "MPI" "ok" "$(mpirun --version 2>&1 | head -1)"; else row "MPI" "MISSING" "no mpirun: the dp=2 run is skipped"; fi
nccl_h=""
for d in ${CUDA_HOME:-/usr/local/cuda}/include /usr/local/cuda/include /usr/include /usr/local/include; do
  [ -f "$d/nccl.h" ] && nccl_h="$d/nccl.h" && break
done
if [ -n "$nccl_h" ]; then
  row "NCCL headers" "ok" "$nccl_h (NCCL $(grep -E '^#define NCCL_(MAJOR|MINOR|PATCH) ' "$nccl_h" | awk '{print $3}' | paste -sd.))"
else
  row "NCCL headers" "MISSING" "no nccl.h: the CUDA build refuses to configure without NCCL"
fi
torch_info=$(timeout 120 python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available" if torch.cuda.is_available() else "NOT available", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>/dev/null)
if [ -z "$torch_info" ]; then
  row "PyTorch" "MISSING" "the twin comparisons are skipped"
elif [[ "$torch_info" == *"NOT available"* ]]; then
  row "PyTorch" "no CUDA" "$torch_info: the twin comparisons are skipped"
else
  row "PyTorch" "ok" "$torch_info"
fi

# ---- Build ------------------------------------------------------------------------------------------------
built=0
if want build; then
  if ! have nvcc; then
    row "build (CUDA)" "SKIPPED" "no nvcc"
  elif ! run cmake 300 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=ON; then
    row "build (CUDA)" "FAILED" "cmake configure: see $LOG_DIR/cmake.log"
  elif ! grep -q "building the CUDA backend" "$LOG_DIR/cmake.log"; then
    row "build (CUDA)" "FAILED" "configured without the CUDA backend: see $LOG_DIR/cmake.log"
  else
    run build 2400 cmake --build "$BUILD_DIR" -j "$JOBS"
    rc=$?
    if [ $rc -eq 0 ]; then
      built=1
      row "build (CUDA)" "ok" "$BUILD_DIR, -j $JOBS"
    else
      row "build (CUDA)" "$(status $rc)" "see $LOG_DIR/build.log: $(grep -m1 -E 'error' "$LOG_DIR/build.log")"
    fi
  fi
elif [ -x "$TRIDENT" ]; then
  built=1
  row "build (CUDA)" "reused" "$BUILD_DIR (build step not requested)"
fi

if [ $built -eq 1 ]; then
  run info 60 "$TRIDENT" info
  row "trident info" "$(status $?)" "$(grep -iE 'cuda|gpu' "$LOG_DIR/info.log" | head -2 | paste -sd' ')"
fi

# ---- ctest -L gpu -----------------------------------------------------------------------------------------
if want ctest; then
  if [ $built -eq 1 ]; then
    (cd "$BUILD_DIR" && run ctest 1500 ctest -L gpu --timeout 600 --output-on-failure)
    rc=$?
    summary=$(last_match ctest 'tests passed|No tests')
    skipped=$(grep -c '\*\*\*Skipped\|Not Run' "$LOG_DIR/ctest.log")
    failed=$(grep -E '^\s+[0-9]+ - ' "$LOG_DIR/ctest.log" | grep -v Skipped | head -3 | sed -E 's/^ +[0-9]+ - //' | paste -sd,)
    row "ctest -L gpu" "$(status $rc)" "$summary; $skipped skipped${failed:+; failed: $failed} ($LOG_DIR/ctest.log)"
  else
    row "ctest -L gpu" "SKIPPED" "no build"
  fi
fi

# ---- Benchmarks -------------------------------------------------------------------------------------------
# bench_detail LOG: Trident's tokens/s and MFU, the PyTorch rows' tokens/s, and the ratios.
bench_detail() {
  local log="$LOG_DIR/$1.log"
  local trident eager compile ratios
  trident=$(grep -E '^\| trident ' "$log" | awk -F'|' '{gsub(/ /,"",$4); gsub(/ /,"",$6); gsub(/ /,"",$8); print "trident " $4 " tok/s, MFU " $6 ", peak " $8 " MB"}')
  eager=$(grep -E '^\| pytorch .* eager' "$log" | awk -F'|' '{gsub(/ /,"",$4); print "eager " $4 " tok/s"}')
  compile=$(grep -E '^\| pytorch .* compile' "$log" | awk -F'|' '{gsub(/ /,"",$4); print "compile " $4 " tok/s"}')
  ratios=$(grep -E '^Trident / ' "$log" | sed -E 's/ \(throughput.*//' | paste -sd';')
  local notes
  notes=$(grep -E 'not run' "$log" | head -2 | cut -c1-120 | paste -sd';')
  if [ -z "$trident" ]; then
    trident="no trident row: $(grep -iE 'error|what\(\)' "$log" | head -2 | cut -c1-200 | paste -sd' ') ($log)"
  fi
  echo "${trident}${eager:+; $eager}${compile:+; $compile}${ratios:+; $ratios}${notes:+; $notes}"
}

if want bench; then
  if [ $built -eq 1 ]; then
    run bench_gpt2_124m 600 "$TRIDENT" bench train configs/gpt2_124m.pbtxt --steps "$BENCH_STEPS" --warmup 3 \
      --set runtime.device=cuda
    rc=$?
    row "bench gpt2_124m (B=16 T=1024)" "$(status $rc)" "$(bench_detail bench_gpt2_124m)"

    llama_done=0
    for micro in $LLAMA_MICRO; do
      run bench_llama_1b 600 "$TRIDENT" bench train configs/llama_1b.pbtxt --steps "$BENCH_STEPS" --warmup 3 \
        --set runtime.device=cuda --set train.micro_batch_size="$micro"
      rc=$?
      cp "$LOG_DIR/bench_llama_1b.log" "$LOG_DIR/bench_llama_1b_micro$micro.log"
      if [ $rc -eq 0 ] || ! grep -qiE 'out of memory|cudaErrorMemoryAllocation' "$LOG_DIR/bench_llama_1b.log"; then
        row "bench llama_1b (B=$micro T=2048)" "$(status $rc)" "$(bench_detail bench_llama_1b)"
        llama_done=1
        break
      fi
      echo "llama_1b at micro_batch_size $micro ran out of memory; trying a smaller one" >&2
    done
    [ $llama_done -eq 0 ] && row "bench llama_1b" "FAILED" "out of memory at every micro_batch_size in: $LLAMA_MICRO"
  else
    row "bench" "SKIPPED" "no build"
  fi
fi

# ---- Training: GPU vs CPU, dp=2 vs one process ------------------------------------------------------------
# losses LOG_DIR_RUN: the per-step training losses of a run's metrics.jsonl, one per line.
losses() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if "loss" in m:
        print(repr(m["loss"]))
' "$1/metrics.jsonl" 2>/dev/null
}

# compare A B FIRST_BAR ALL_BAR: "ok|FAILED<TAB>detail" for two runs' losses: the first step's relative
# difference within FIRST_BAR, every step's within ALL_BAR.
compare() {
  python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
def losses(d):
    out = []
    try:
        for line in open(d + "/metrics.jsonl"):
            m = json.loads(line)
            if "loss" in m:
                out.append(m["loss"])
    except OSError:
        pass
    return out
a, b = losses(sys.argv[1]), losses(sys.argv[2])
first_bar, all_bar = float(sys.argv[3]), float(sys.argv[4])
if not a or len(a) != len(b):
    print(f"FAILED\t{len(a)} vs {len(b)} logged losses")
    sys.exit()
rel = [abs(x - y) / max(abs(y), 1e-30) for x, y in zip(a, b)]
ok = rel[0] <= first_bar and max(rel) <= all_bar
print(f"{'ok' if ok else 'FAILED'}\t{len(a)} steps: step 1 {a[0]:.6f} vs {b[0]:.6f} (rel {rel[0]:.1e}, bar "
      f"{first_bar:g}); last {a[-1]:.6f} vs {b[-1]:.6f}; max rel {max(rel):.1e} (bar {all_bar:g})")
EOF
}

if want train; then
  if [ $built -eq 1 ]; then
    # Data: the fortunes corpus when the machine has it, else this repository's text (any text will do for a
    # CPU-vs-GPU comparison of the same steps).
    DATA="${TRIDENT_GPU_DATA_DIR:-$BUILD_DIR/gpu_check_data}"
    [ -f data/fortunes/train.bin ] && [ -f data/fortunes/val.bin ] && DATA=data/fortunes
    if [ ! -f "$DATA/train.bin" ]; then
      if [ -d /usr/share/games/fortunes ]; then
        run data 300 "$TRIDENT" data prepare --input /usr/share/games/fortunes --out "$DATA"
      else
        run data 300 "$TRIDENT" data prepare --input README.md core models train tools configs --out "$DATA"
      fi
    fi
    COMMON=(configs/gpt2_tiny.pbtxt --set train.steps="$TRAIN_STEPS" --set train.log_interval=1
            --set train.eval_interval=0 --set train.eval_steps=1 --set train.sample_tokens=0
            --set optim.warmup_steps=$((TRAIN_STEPS / 2))
            --set data.train_path="$DATA/train.bin" --set data.val_path="$DATA/val.bin")
    rm -rf "$LOG_DIR/tiny_cpu" "$LOG_DIR/tiny_gpu" "$LOG_DIR/tiny_gpu_dp2"
    run train_cpu 600 "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cpu --out "$LOG_DIR/tiny_cpu"
    rc_cpu=$?
    run train_gpu 600 "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cuda --out "$LOG_DIR/tiny_gpu"
    rc_gpu=$?
    echo "gpt2_tiny losses, CPU then GPU (fp32):"
    paste <(losses "$LOG_DIR/tiny_cpu") <(losses "$LOG_DIR/tiny_gpu") | nl
    if [ $rc_cpu -ne 0 ] || [ $rc_gpu -ne 0 ]; then
      row "train gpt2_tiny GPU vs CPU" "FAILED" "cpu: $(status $rc_cpu), gpu: $(status $rc_gpu) (see $LOG_DIR/train_{cpu,gpu}.log)"
    else
      # fp32 on both: the first step is the golden fp32 bar; later steps drift by reduction order, amplified
      # by Adam's division by sqrt(v), so the bar widens to 1e-3.
      IFS=$'\t' read -r st detail < <(compare "$LOG_DIR/tiny_gpu" "$LOG_DIR/tiny_cpu" 1e-5 1e-3)
      row "train gpt2_tiny GPU vs CPU" "$st" "$detail; $(last_match train_gpu 'tok/s' | grep -oE '[0-9]+ tok/s' | tail -1) on GPU"
    fi

    if have mpirun && [ $rc_gpu -eq 0 ]; then
      # Two ranks on the one GPU, one micro-batch each (global 16 = 2 ranks x micro 8): the same global batch as
      # the single process's two accumulated micro-batches, so the losses agree to fp32 reduction order.
      run train_gpu_dp2 600 env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        mpirun --oversubscribe -np 2 "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cuda \
        --set parallel.data=2 --out "$LOG_DIR/tiny_gpu_dp2"
      rc=$?
      echo "gpt2_tiny losses, GPU one process then GPU dp=2:"
      paste <(losses "$LOG_DIR/tiny_gpu") <(losses "$LOG_DIR/tiny_gpu_dp2") | nl
      if [ $rc -ne 0 ]; then
        row "train gpt2_tiny GPU dp=2 (mpirun)" "$(status $rc)" "see $LOG_DIR/train_gpu_dp2.log: $(grep -m1 -iE 'error' "$LOG_DIR/train_gpu_dp2.log" | cut -c1-160)"
      else
        IFS=$'\t' read -r st detail < <(compare "$LOG_DIR/tiny_gpu_dp2" "$LOG_DIR/tiny_gpu" 1e-5 1e-3)
        row "train gpt2_tiny GPU dp=2 vs 1" "$st" "$detail"
      fi
    else
      row "train gpt2_tiny GPU dp=2 (mpirun)" "SKIPPED" "$(have mpirun && echo 'the single-GPU run failed' || echo 'no mpirun')"
    fi
  else
    row "train" "SKIPPED" "no build"
  fi
fi

echo
printf '| %-34s | %-8s | %s\n' "check" "result" "detail"
printf '|%s|%s|%s\n' "------------------------------------" "----------" "----------------------------------------"
printf '%s\n' "${rows[@]}"
echo "logs: $LOG_DIR"
