#!/usr/bin/env bash
# The single entry point for GPU checks: on a machine with a GPU, build Trident with CUDA, run the `gpu`-labelled
# tests and the GPU benchmarks, and print one summary table. Says plainly what is missing instead of failing
# half-way.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${TRIDENT_GPU_BUILD_DIR:-build-gpu}"

declare -a rows
row() { rows+=("$(printf '| %-34s | %-8s | %s' "$1" "$2" "$3")"); }

have() { command -v "$1" >/dev/null 2>&1; }
have nvcc && row "nvcc" "ok" "$(nvcc --version | tail -1)" || row "nvcc" "MISSING" "CUDA toolkit not on PATH"
have nvidia-smi && row "GPU" "ok" "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)" \
  || row "GPU" "MISSING" "nvidia-smi not found"
have mpirun && row "MPI" "ok" "$(mpirun --version 2>&1 | head -1)" || row "MPI" "MISSING" "no mpirun"
python3 -c "import torch" 2>/dev/null && row "PyTorch" "ok" "$(python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())')" \
  || row "PyTorch" "MISSING" "the twin comparisons are skipped"

if have nvcc; then
  if cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/tmp/trident_gpu_cmake.log 2>&1 &&
     cmake --build "$BUILD_DIR" -j "$(nproc)" >/tmp/trident_gpu_build.log 2>&1; then
    row "build (CUDA)" "ok" "$BUILD_DIR"
    row "trident info" "ok" "$("$BUILD_DIR"/trident info | tail -1)"
    if (cd "$BUILD_DIR" && ctest -L gpu --output-on-failure >/tmp/trident_gpu_ctest.log 2>&1); then
      row "ctest -L gpu" "ok" "$(grep -E 'tests passed' /tmp/trident_gpu_ctest.log)"
    else
      row "ctest -L gpu" "FAILED" "$(grep -E 'tests passed|No tests' /tmp/trident_gpu_ctest.log) (see /tmp/trident_gpu_ctest.log)"
    fi
  else
    row "build (CUDA)" "FAILED" "see /tmp/trident_gpu_cmake.log and /tmp/trident_gpu_build.log"
  fi
fi

printf '| %-34s | %-8s | %s\n' "check" "result" "detail"
printf '|%s|%s|%s\n' "------------------------------------" "----------" "----------------------------------------"
printf '%s\n' "${rows[@]}"
