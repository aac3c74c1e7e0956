#!/usr/bin/env bash
# The single entry point for GPU checks: on a machine with a GPU, unpack the bundled build dependencies, report
# what the machine has, build Trident with CUDA (sm_90, only the targets the checks need), run the `gpu`-labelled
# tests, a short GPU training run against the CPU run of the same config, the same run as two MPI ranks sharing
# the GPU (dp=2 over MPI, tp=2, dp=2 over NCCL), the profiler timed by CUDA events, and last the benchmarks
# (GPT-2 124M against PyTorch eager and torch.compile, LLaMA 1B against the measured bf16 GEMM rate); then print
# ONE table with every check's result, time and numbers.
#
# On the lent GPU machine (one H100, 16 cores, nvcc, CMake, ninja and PyTorch, but no Debian -dev packages and no
# network), from this machine, in ONE call of the device tool:
#
#   bash tools/gpu_deps.sh fetch            # here, once: the .deb bundle into gpu_deps/ (~21 MiB, gitignored)
#   device run: command "bash tools/gpu_check.sh", carry ["gpu_deps"], timeout_s 600
#
# The default run fits 8 minutes from a fresh machine: each step has a time cap (CAPS below, 555 s in all) and
# the whole run a budget (TRIDENT_GPU_BUDGET_S, 470 s); a step that would outlast the budget is cut short and
# says so, so the checks come first and the benchmarks last. Every step runs under `timeout` and logs to
# $LOG_DIR/<step>.log; a failed or timed-out step is a row in the table, never the end of the script. At the end
# the last lines of each failed step's log are printed, then the table. When $OUT is set (the device tool brings
# back at most 8 files from it), two files go there: summary.md (the table) and gpu_check_logs.tgz (every log
# and the training runs' metrics, without weights). Without a GPU every part says GPU MISSING, nothing is built,
# and the script exits 0.
#
#   tools/gpu_check.sh                   everything: deps build ctest bench train
#   tools/gpu_check.sh ctest bench       only those parts (on a machine where an earlier call built $BUILD_DIR)
#
# Environment (defaults in brackets):
#   TRIDENT_GPU_BUILD_DIR [build-gpu]    TRIDENT_GPU_LOG_DIR [/tmp/trident_gpu_check]
#   TRIDENT_GPU_DEPS_PREFIX [/tmp/trident_deps]  where gpu_deps/ is unpacked (tools/gpu_deps.sh unpack)
#   TRIDENT_GPU_JOBS [all cores]         build parallelism
#   TRIDENT_GPU_BUDGET_S [470]           the whole run's time budget; TRIDENT_GPU_TIME_SCALE [1], an integer,
#                                        multiplies it and every cap (e.g. 3 for a slower machine)
#   TRIDENT_GPU_BENCH_STEPS [10]         timed steps per benchmark (after 3 warmup steps)
#   TRIDENT_GPU_TRAIN_STEPS [20]         steps of the gpt2_tiny training runs
#   TRIDENT_GPU_LLAMA_MICRO ["8 4 2"]    llama_1b micro-batch sizes tried in order until one fits in memory
#   TRIDENT_GPU_DATA_DIR [$BUILD_DIR/gpu_check_data]  token shards for the training runs, made if missing
#   TRIDENT_GPU_CHECK_FORCE [0]          1: go on without a GPU (to try the deps and build steps on a CPU machine)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD_DIR="${TRIDENT_GPU_BUILD_DIR:-build-gpu}"
LOG_DIR="${TRIDENT_GPU_LOG_DIR:-/tmp/trident_gpu_check}"
DEPS_PREFIX="${TRIDENT_GPU_DEPS_PREFIX:-/tmp/trident_deps}"
JOBS="${TRIDENT_GPU_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
SCALE="${TRIDENT_GPU_TIME_SCALE:-1}"
BUDGET=$((${TRIDENT_GPU_BUDGET_S:-470} * SCALE))
BENCH_STEPS="${TRIDENT_GPU_BENCH_STEPS:-10}"
TRAIN_STEPS="${TRIDENT_GPU_TRAIN_STEPS:-20}"
LLAMA_MICRO="${TRIDENT_GPU_LLAMA_MICRO:-8 4 2}"
TRIDENT="$BUILD_DIR/trident"
mkdir -p "$LOG_DIR" && LOG_DIR=$(cd "$LOG_DIR" && pwd)
# An earlier call's logs came back with it; this call's are its own.
rm -f "$LOG_DIR"/*.log "$LOG_DIR/summary.md" "$LOG_DIR/failed_steps"
START=$SECONDS
# The device machine runs commands as root; Open MPI refuses root without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# A failed NCCL start says why in the step's log.
export NCCL_DEBUG="${NCCL_DEBUG:-WARN}"
# The toolkit's usual home when nvcc is not on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi

# Each step's cap in seconds (times SCALE), sized for one H100 with 16 cores; they sum to 555 s; the 470 s budget
# cuts the last steps (the benchmarks) short (NO TIME) only if the earlier ones use most of their caps. The
# GPT-2 benchmark's cap holds PyTorch eager and a cold torch.compile as well as Trident's own steps.
declare -A CAPS=([probe]=15 [deps]=20 [configure]=30 [build]=170 [info]=5 [ctest]=60 [data]=10 [train_cpu]=12
                 [train_gpu]=10 [train_gpu_dp2]=12 [train_gpu_tp2]=12 [train_gpu_nccl]=10
                 [train_gpu_dp2_nccl]=14 [profile]=15 [bench_gpt2_124m]=110 [bench_llama_1b]=50)

PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(deps build ctest bench train)
want() {
  local p
  for p in "${PARTS[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}

declare -a rows
# row CHECK RESULT SECONDS DETAIL
row() { rows+=("$(printf '| %-36s | %-11s | %5s | %s |' "$1" "$2" "$3" "$4")"); }

have() { command -v "$1" >/dev/null 2>&1; }

# run NAME CMD...: CMD under timeout (its cap from CAPS, less what is left of the budget), output to
# $LOG_DIR/NAME.log; returns CMD's status (124: timed out, 125: not started, the budget was spent). Sets TOOK to
# the seconds it ran. Prints the command first, so each log says what ran.
TOOK=0
run() {
  local name=$1 cap=$((${CAPS[${1%%_micro*}]:-60} * SCALE)) left
  shift
  left=$((BUDGET - (SECONDS - START)))
  [ "$left" -lt "$cap" ] && cap=$left
  {
    printf '$'
    printf ' %q' "$@"
    printf '\n'
  } >"$LOG_DIR/$name.log"
  if [ "$cap" -lt 3 ]; then
    echo "not run: the ${BUDGET}s budget is spent" >>"$LOG_DIR/$name.log"
    TOOK=0
    return 125
  fi
  local t0=$SECONDS
  timeout --kill-after=5 "$cap" "$@" >>"$LOG_DIR/$name.log" 2>&1
  local rc=$?
  TOOK=$((SECONDS - t0))
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "TIMEOUT after ${cap}s (cap)" >>"$LOG_DIR/$name.log"
  [ $rc -ne 0 ] && echo "$name" >>"$LOG_DIR/failed_steps"  # a file: run also runs in subshells
  return $rc
}

# status RC: ok, TIMEOUT, NO TIME (the budget was spent before the step) or FAILED for a step's exit status.
status() {
  case $1 in
    0) echo ok ;;
    124 | 137) echo TIMEOUT ;;
    125) echo "NO TIME" ;;
    *) echo FAILED ;;
  esac
}

# The last line of a log that matches a pattern (for the table's detail column).
last_match() { grep -E "$2" "$LOG_DIR/$1.log" 2>/dev/null | tail -1; }
# The first error-looking line of a log, shortened.
first_error() { grep -m1 -iE 'error|what\(\)|not run|TIMEOUT' "$LOG_DIR/$1.log" 2>/dev/null | cut -c1-"${2:-160}"; }

# finish: the last lines of every failed step's log, then the table (printed last: the device tool keeps the
# end of the output), then summary.md and the logs packed into $OUT when it is set. Exits 0.
finish() {
  local name
  for name in $(cat "$LOG_DIR/failed_steps" 2>/dev/null); do
    echo
    echo "---- $name failed; the last lines of $LOG_DIR/$name.log:"
    tail -15 "$LOG_DIR/$name.log" | cut -c1-240
  done
  print_table
  if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
    cp "$LOG_DIR/summary.md" "$OUT/summary.md"
    tar -C "$LOG_DIR" -czf "$OUT/gpu_check_logs.tgz" --exclude='*.safetensors' --exclude=tb . &&
      echo "in \$OUT: summary.md, gpu_check_logs.tgz ($(du -k "$OUT/gpu_check_logs.tgz" | cut -f1) KiB)"
  fi
  exit 0
}

print_table() {
  {
    echo
    printf '| %-36s | %-11s | %5s | %s |\n' "check" "result" "s" "detail"
    printf '|%s|%s|%s|%s|\n' "--------------------------------------" "-------------" "-------" "--------"
    printf '%s\n' "${rows[@]}"
    echo "total $((SECONDS - START)) s of a ${BUDGET} s budget; logs: $LOG_DIR"
  } | tee "$LOG_DIR/summary.md"
}

# ---- What the machine has ---------------------------------------------------------------------------------
gpu=0
if have nvidia-smi && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  gpu=1
  row "GPU" "ok" "" "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1); $(getconf _NPROCESSORS_ONLN) cores"
else
  row "GPU" "GPU MISSING" "" "$(have nvidia-smi && echo 'nvidia-smi lists no GPU' || echo 'no nvidia-smi'); $(getconf _NPROCESSORS_ONLN) cores"
fi
if have nvcc; then
  row "nvcc" "ok" "" "$(nvcc --version | tail -1) ($(command -v nvcc))"
  CUDA_DIR=$(cd "$(dirname "$(command -v nvcc)")/.." && pwd)
else
  row "nvcc" "MISSING" "" "CUDA toolkit not on PATH"
  CUDA_DIR="${CUDA_HOME:-/usr/local/cuda}"
fi
# cuBLAS and cuBLASLt come from the toolkit beside nvcc (CMake's FindCUDAToolkit): without them configure fails.
cublas=""
for d in "$CUDA_DIR"/lib64 "$CUDA_DIR"/targets/x86_64-linux/lib; do
  cublas=$(find "$d"/ -maxdepth 1 -name 'libcublasLt.so*' -printf '%f ' 2>/dev/null) && [ -n "$cublas" ] && break
done
if [ -n "$cublas" ]; then
  row "cuBLAS" "ok" "" "$cublas in $d"
else
  row "cuBLAS" "MISSING" "" "no libcublasLt.so* under $CUDA_DIR/lib64 or targets/x86_64-linux/lib: the CUDA build cannot link"
fi

# NCCL and cuDNN: the toolkit first, then the pip packages (nvidia-nccl-cu13, nvidia-cudnn-cu13) in python3's
# site-packages, whose lib/ folders hold only versioned names (libnccl.so.2): CMake is told NCCL_ROOT.
py_package_dir() {
  timeout "${CAPS[probe]}" python3 -c "import importlib, sys
try:
    print(list(importlib.import_module('nvidia.$1').__path__)[0])
except Exception:
    sys.exit(1)" 2>/dev/null
}
find_header() { # NAME HEADER: prints the folder with include/HEADER and where it was found
  local d
  for d in "$CUDA_DIR" "$CUDA_DIR/targets/x86_64-linux" /usr /usr/local; do
    [ -f "$d/include/$2" ] && echo "$d toolkit" && return 0
  done
  d=$(py_package_dir "$1") && [ -f "$d/include/$2" ] && echo "$d python" && return 0
  return 1
}
NCCL_ROOT=""
if read -r nccl_dir nccl_where < <(find_header nccl nccl.h); then
  nccl_ver=$(grep -E '^#define NCCL_(MAJOR|MINOR|PATCH) ' "$nccl_dir/include/nccl.h" | awk '{print $3}' | paste -sd.)
  if [ "$nccl_where" = python ]; then
    NCCL_ROOT=$nccl_dir
    export LD_LIBRARY_PATH="$nccl_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  row "NCCL" "ok" "" "NCCL $nccl_ver in the $nccl_where ($nccl_dir: $(find "$nccl_dir"/lib* -maxdepth 1 -name 'libnccl.so*' -printf '%f ' 2>/dev/null))"
else
  row "NCCL" "MISSING" "" "no nccl.h in the toolkit or python3's nvidia.nccl: the CUDA build refuses to configure"
fi
if read -r cudnn_dir cudnn_where < <(find_header cudnn cudnn_version.h); then
  cudnn_ver=$(grep -E '^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$cudnn_dir/include/cudnn_version.h" | awk '{print $3}' | paste -sd.)
  row "cuDNN" "ok" "" "cuDNN $cudnn_ver in the $cudnn_where ($cudnn_dir; Trident does not use it)"
else
  row "cuDNN" "MISSING" "" "not in the toolkit or python3's nvidia.cudnn (Trident does not use it)"
fi
torch_info=$(timeout "${CAPS[probe]}" python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available" if torch.cuda.is_available() else "NOT available", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>/dev/null)
if [ -z "$torch_info" ]; then
  row "PyTorch" "MISSING" "" "the twin comparisons are skipped"
elif [[ "$torch_info" == *"NOT available"* ]]; then
  row "PyTorch" "no CUDA" "" "$torch_info: the twin comparisons are skipped"
else
  row "PyTorch" "ok" "" "$torch_info"
fi

if [ $gpu -eq 0 ] && [ "${TRIDENT_GPU_CHECK_FORCE:-0}" != 1 ]; then
  # A dry run: say what each part would have done, build nothing.
  bundle="no gpu_deps/ bundle (tools/gpu_deps.sh fetch)"
  [ -f gpu_deps/MANIFEST ] && bundle="gpu_deps/ holds $(grep -c '^deb ' gpu_deps/MANIFEST) packages"
  want deps && row "deps (unpack gpu_deps/)" "GPU MISSING" 0 "not unpacked; $bundle"
  want build && row "build (CUDA, sm_90)" "GPU MISSING" 0 "not built"
  want ctest && row "ctest -L gpu" "GPU MISSING" 0 "not run"
  if want train; then
    row "train gpt2_tiny GPU vs CPU" "GPU MISSING" 0 "not run"
    row "train gpt2_tiny GPU nccl vs mpi" "GPU MISSING" 0 "not run"
    row "train gpt2_tiny GPU dp=2 vs 1 (mpi)" "GPU MISSING" 0 "not run"
    row "train gpt2_tiny GPU tp=2 vs 1" "GPU MISSING" 0 "not run"
    row "train gpt2_tiny GPU dp=2 nccl vs mpi" "GPU MISSING" 0 "not run"
    row "profile gpt2_124m (CUDA events)" "GPU MISSING" 0 "not run"
  fi
  if want bench; then
    row "bench gpt2_124m" "GPU MISSING" 0 "not run"
    row "bench llama_1b" "GPU MISSING" 0 "not run"
  fi
  finish
fi

# ---- Dependencies: the .deb bundle (tools/gpu_deps.sh) or the system's packages ---------------------------
if want deps; then
  if [ -f gpu_deps/MANIFEST ]; then
    [ "$DEPS_PREFIX" != / ] && rm -rf "$DEPS_PREFIX"
    run deps bash tools/gpu_deps.sh unpack "$DEPS_PREFIX"
    rc=$?
    row "deps (unpack gpu_deps/)" "$(status $rc)" "$TOOK" "$(tail -1 "$LOG_DIR/deps.log" | cut -c1-200)"
  elif have protoc && have mpirun && have pkg-config; then
    row "deps" "system" 0 "no gpu_deps/ bundle: the system's packages (protoc, mpirun, pkg-config found)"
  else
    row "deps" "MISSING" 0 "no gpu_deps/ bundle and no system packages: run tools/gpu_deps.sh fetch on a Debian 12 machine and carry gpu_deps"
  fi
fi
# shellcheck disable=SC1091
[ -f "$DEPS_PREFIX/env.sh" ] && source "$DEPS_PREFIX/env.sh"
if have mpirun; then
  row "MPI" "ok" "" "$(mpirun --version 2>&1 | head -1) ($(command -v mpirun))"
else
  row "MPI" "MISSING" "" "no mpirun: the multi-rank runs are skipped"
fi

# ---- Build ------------------------------------------------------------------------------------------------
# Only what the checks run: the CLI and the test binaries of tests/gpu/gpu_tests.cmake (the gpu-labelled tests).
mapfile -t GPU_TARGETS < <(echo trident; grep -oE 'add_executable\(trident_[a-z0-9_]+' tests/gpu/gpu_tests.cmake | cut -d'(' -f2)
built=0
if want build; then
  cmake_args=(-S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=ON
              -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
  [ -n "$NCCL_ROOT" ] && cmake_args+=(-DNCCL_ROOT="$NCCL_ROOT")
  if ! have nvcc; then
    row "build (CUDA, sm_90)" "SKIPPED" 0 "no nvcc"
  elif ! run configure cmake "${cmake_args[@]}"; then
    row "build (CUDA, sm_90)" "FAILED" "$TOOK" "cmake configure: $(grep -m1 -A2 'Error' "$LOG_DIR/configure.log" | paste -sd' ' | cut -c1-200)"
  elif ! grep -q "building the CUDA backend" "$LOG_DIR/configure.log"; then
    row "build (CUDA, sm_90)" "FAILED" "$TOOK" "configured without the CUDA backend: see $LOG_DIR/configure.log"
  else
    configure_s=$TOOK
    targets=()
    for t in "${GPU_TARGETS[@]}"; do
      ninja -C "$BUILD_DIR" -t query "$t" >/dev/null 2>&1 && targets+=("$t")
    done
    run build cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}"
    rc=$?
    if [ $rc -eq 0 ]; then
      built=1
      row "build (CUDA, sm_90)" "ok" "$((configure_s + TOOK))" "${targets[*]} with -j $JOBS (configure ${configure_s} s)"
    else
      row "build (CUDA, sm_90)" "$(status $rc)" "$((configure_s + TOOK))" "$(grep -m1 -E 'error' "$LOG_DIR/build.log" | cut -c1-200) ($(grep -cE '^\[[0-9]+/' "$LOG_DIR/build.log") steps done)"
    fi
  fi
elif [ -x "$TRIDENT" ]; then
  built=1
  row "build (CUDA, sm_90)" "reused" 0 "$BUILD_DIR (build step not requested)"
fi

if [ $built -eq 1 ]; then
  run info "$TRIDENT" info
  row "trident info" "$(status $?)" "$TOOK" "$(grep -iE 'cuda|gpu' "$LOG_DIR/info.log" | head -2 | paste -sd' ' | cut -c1-200)"
fi

# ---- ctest -L gpu -----------------------------------------------------------------------------------------
if want ctest; then
  if [ $built -eq 1 ]; then
    # Eight cases at once, each CPU reference on two OpenMP threads.
    (cd "$BUILD_DIR" && export OMP_NUM_THREADS=2 && run ctest ctest -L gpu -j 8 --timeout 60 --output-on-failure)
    rc=$?
    took=$(grep -oE 'Total Test time \(real\) = +[0-9.]+' "$LOG_DIR/ctest.log" | grep -oE '[0-9.]+$' | cut -d. -f1)
    summary=$(last_match ctest 'tests passed|No tests')
    skipped=$(grep -c '\*\*\*Skipped\|Not Run' "$LOG_DIR/ctest.log")
    failed=$(grep -E '^\s+[0-9]+ - ' "$LOG_DIR/ctest.log" | grep -v Skipped | head -3 | sed -E 's/^ +[0-9]+ - //' | paste -sd,)
    row "ctest -L gpu" "$(status $rc)" "${took:-}" "$summary; $skipped skipped${failed:+; failed: $failed}"
  else
    row "ctest -L gpu" "SKIPPED" 0 "no build"
  fi
fi

# ---- Training: GPU vs CPU; two ranks on the one GPU -------------------------------------------------------
# losses RUN_DIR: the per-step training losses of a run's metrics.jsonl, one per line.
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

# result_row CHECK LOG RC RUN REFERENCE_RUN: the table's row for a GPU training run: its error when it failed
# (exit status RC, log LOG), else its losses against REFERENCE_RUN's.
result_row() {
  local check=$1 log=$2 rc=$3 run_dir=$4 ref=$5 st detail
  if [ "$rc" -ne 0 ]; then
    row "$check" "$(status "$rc")" "$TOOK" "$(first_error "$log" 200)"
  else
    IFS=$'\t' read -r st detail < <(compare "$LOG_DIR/$run_dir" "$LOG_DIR/$ref" 1e-5 1e-3)
    row "$check" "$st" "$TOOK" "$detail"
  fi
}

# two_rank_row CHECK RUN REFERENCE_RUN SETTINGS...: gpt2_tiny as two MPI ranks on the one GPU with SETTINGS into
# $LOG_DIR/RUN (log train_RUN less its tiny_), its losses against REFERENCE_RUN's. Two ranks, one micro-batch
# each (global 16 = 2 x micro 8), see the same global batch as one process's two accumulated micro-batches, so
# the losses agree to fp32 reduction order.
two_rank_row() {
  local check=$1 run_dir=$2 ref=$3 name="train_${2#tiny_}"
  shift 3
  if ! have mpirun; then
    row "$check" "SKIPPED" 0 "no mpirun"
    return
  fi
  if [ ! -f "$LOG_DIR/$ref/metrics.jsonl" ]; then
    row "$check" "SKIPPED" 0 "its reference run ($ref) failed"
    return
  fi
  rm -rf "${LOG_DIR:?}/$run_dir"
  run "$name" mpirun --oversubscribe -np 2 "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cuda "$@" \
    --out "$LOG_DIR/$run_dir"
  local rc=$?
  echo "gpt2_tiny losses, $ref then $run_dir:"
  paste <(losses "$LOG_DIR/$ref") <(losses "$LOG_DIR/$run_dir") | nl
  result_row "$check" "$name" $rc "$run_dir" "$ref"
}

if want train; then
  if [ $built -eq 1 ]; then
    # Data: the fortunes corpus when the machine has it, else this repository's text (any text will do for a
    # CPU-vs-GPU comparison of the same steps).
    DATA="${TRIDENT_GPU_DATA_DIR:-$BUILD_DIR/gpu_check_data}"
    [ -f data/fortunes/train.bin ] && [ -f data/fortunes/val.bin ] && DATA=data/fortunes
    if [ ! -f "$DATA/train.bin" ]; then
      if [ -d /usr/share/games/fortunes ]; then
        run data "$TRIDENT" data prepare --input /usr/share/games/fortunes --out "$DATA"
      else
        run data "$TRIDENT" data prepare --input README.md core models train tools configs --out "$DATA"
      fi
    fi
    COMMON=(configs/gpt2_tiny.pbtxt --set train.steps="$TRAIN_STEPS" --set train.log_interval=1
            --set train.eval_interval=0 --set train.eval_steps=1 --set train.sample_tokens=0
            --set optim.warmup_steps=$((TRAIN_STEPS / 2))
            --set data.train_path="$DATA/train.bin" --set data.val_path="$DATA/val.bin")
    rm -rf "$LOG_DIR/tiny_cpu" "$LOG_DIR/tiny_gpu"
    run train_cpu "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cpu --out "$LOG_DIR/tiny_cpu"
    rc_cpu=$?
    took_cpu=$TOOK
    run train_gpu "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cuda --set comm.backend=mpi \
      --out "$LOG_DIR/tiny_gpu"
    rc_gpu=$?
    echo "gpt2_tiny losses, CPU then GPU (fp32):"
    paste <(losses "$LOG_DIR/tiny_cpu") <(losses "$LOG_DIR/tiny_gpu") | nl
    if [ $rc_cpu -ne 0 ] || [ $rc_gpu -ne 0 ]; then
      row "train gpt2_tiny GPU vs CPU" "FAILED" "$((took_cpu + TOOK))" "cpu: $(status $rc_cpu), gpu: $(status $rc_gpu): $(first_error train_gpu) $(first_error train_cpu)"
    else
      # fp32 on both: the first step is the golden fp32 bar; later steps drift by reduction order, amplified
      # by Adam's division by sqrt(v), so the bar widens to 1e-3.
      IFS=$'\t' read -r st detail < <(compare "$LOG_DIR/tiny_gpu" "$LOG_DIR/tiny_cpu" 1e-5 1e-3)
      row "train gpt2_tiny GPU vs CPU" "$st" "$((took_cpu + TOOK))" "$detail; $(last_match train_gpu 'tok/s' | grep -oE '[0-9]+ tok/s' | tail -1) on GPU"
    fi
    # NCCL under every training group (groups of one rank here) against MPI, one process.
    rm -rf "$LOG_DIR/tiny_gpu_nccl"
    run train_gpu_nccl "$TRIDENT" train "${COMMON[@]}" --set runtime.device=cuda --set comm.backend=nccl \
      --out "$LOG_DIR/tiny_gpu_nccl"
    result_row "train gpt2_tiny GPU nccl vs mpi" train_gpu_nccl $? tiny_gpu_nccl tiny_gpu
    # Two ranks on one GPU: the MPI communicator (device buffers staged through pinned host memory) for dp and
    # tp. NCCL wants one GPU per rank: its two-rank row runs only where there are two GPUs.
    two_rank_row "train gpt2_tiny GPU dp=2 vs 1 (mpi)" tiny_gpu_dp2 tiny_gpu --set parallel.data=2 \
      --set comm.backend=mpi
    two_rank_row "train gpt2_tiny GPU tp=2 vs 1" tiny_gpu_tp2 tiny_gpu --set parallel.data=1 \
      --set parallel.tensor=2 --set comm.backend=mpi
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
    if [ "$gpus" -ge 2 ]; then
      two_rank_row "train gpt2_tiny GPU dp=2 nccl vs mpi" tiny_gpu_dp2_nccl tiny_gpu_dp2 --set parallel.data=2 \
        --set comm.backend=nccl
    else
      row "train gpt2_tiny GPU dp=2 nccl vs mpi" "SKIPPED" 0 "NCCL needs a GPU per rank; this machine has $gpus"
    fi

    # The profiler on the GPU: spans timed by CUDA events cover the kernels, so what no span covers (idle /
    # wait) is a small share of the step; timed by the host's clock they would cover only the launches.
    run profile "$TRIDENT" profile configs/gpt2_124m.pbtxt --steps 2 --set runtime.device=cuda \
      --set train.seq_len=256 --set train.micro_batch_size=4 --set train.global_batch_size=4 \
      --set data.train_path="$DATA/train.bin" --set data.val_path="$DATA/val.bin"
    rc=$?
    idle=$(last_match profile '^idle / wait' | grep -oE '[0-9.]+%' | tail -1)
    step=$(last_match profile '^profile of rank 0' | grep -oE '[0-9.]+ ms per step')
    if [ $rc -ne 0 ] || [ -z "$idle" ]; then
      row "profile gpt2_124m (CUDA events)" "$(status $rc)" "$TOOK" "$(first_error profile 200)"
    elif awk -v i="${idle%\%}" 'BEGIN { exit !(i < 50) }'; then
      row "profile gpt2_124m (CUDA events)" "ok" "$TOOK" "$step; idle / wait $idle of the step (bar 50%)"
    else
      row "profile gpt2_124m (CUDA events)" "FAILED" "$TOOK" "$step; idle / wait $idle: spans miss the kernels"
    fi
  else
    row "train" "SKIPPED" 0 "no build"
  fi
fi

# ---- Benchmarks -------------------------------------------------------------------------------------------
# bench_detail LOG: Trident's tokens/s and MFU (of the data-sheet peak and of the measured bf16 GEMM rate), the
# PyTorch rows' tokens/s, and the ratios. LLaMA 1B runs without the twin: its goal is MFU >= 50% of the GEMM rate.
bench_detail() {
  local log="$LOG_DIR/$1.log"
  local trident eager compile ratios notes gemm
  trident=$(grep -E '^\| trident ' "$log" | awk -F'|' '{gsub(/ /,"",$4); gsub(/ /,"",$6); gsub(/ /,"",$7); gsub(/ /,"",$9); print "trident " $4 " tok/s, MFU " $6 " (" $7 " of the GEMM rate), peak " $9 " MB"}')
  gemm=$(grep -oE '^bf16 GEMM rate measured now: [0-9]+ TFLOP/s' "$log" | grep -oE '[0-9]+ TFLOP/s')
  eager=$(grep -E '^\| pytorch .* eager' "$log" | awk -F'|' '{gsub(/ /,"",$4); print "eager " $4 " tok/s"}')
  compile=$(grep -E '^\| pytorch .* compile' "$log" | awk -F'|' '{gsub(/ /,"",$4); print "compile " $4 " tok/s"}')
  ratios=$(grep -E '^Trident / ' "$log" | sed -E 's/ \(throughput.*//' | paste -sd';')
  notes=$(grep -E 'not run' "$log" | head -2 | cut -c1-120 | paste -sd';')
  if [ -z "$trident" ]; then
    trident="no trident row: $(grep -iE 'error|what\(\)|TIMEOUT' "$log" | head -2 | cut -c1-200 | paste -sd' ')"
  fi
  echo "${trident}${eager:+; $eager}${compile:+; $compile}${ratios:+; $ratios}${gemm:+; bf16 GEMM $gemm}${notes:+; $notes}"
}

if want bench; then
  if [ $built -eq 1 ]; then
    run bench_gpt2_124m "$TRIDENT" bench train configs/gpt2_124m.pbtxt --steps "$BENCH_STEPS" --warmup 3 \
      --set runtime.device=cuda
    rc=$?
    row "bench gpt2_124m (B=16 T=1024)" "$(status $rc)" "$TOOK" "$(bench_detail bench_gpt2_124m)"

    llama_done=0
    llama_took=0
    for micro in $LLAMA_MICRO; do
      run bench_llama_1b_micro"$micro" "$TRIDENT" bench train configs/llama_1b.pbtxt --steps "$BENCH_STEPS" \
        --warmup 3 --set runtime.device=cuda --set train.micro_batch_size="$micro" --no-torch
      rc=$?
      llama_took=$((llama_took + TOOK))
      if [ $rc -eq 0 ] || ! grep -qiE 'out of memory|cudaErrorMemoryAllocation' "$LOG_DIR/bench_llama_1b_micro$micro.log"; then
        row "bench llama_1b (B=$micro T=2048)" "$(status $rc)" "$llama_took" "$(bench_detail bench_llama_1b_micro"$micro")"
        llama_done=1
        break
      fi
      echo "llama_1b at micro_batch_size $micro ran out of memory; trying a smaller one" >&2
    done
    [ $llama_done -eq 0 ] && row "bench llama_1b" "FAILED" "$llama_took" "out of memory at every micro_batch_size in: $LLAMA_MICRO"
  else
    row "bench" "SKIPPED" 0 "no build"
  fi
fi

finish
