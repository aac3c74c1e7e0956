#!/usr/bin/env bash
# Installs Trident's dependencies (Debian packages only) and builds it into build/.
# The CUDA toolkit is used when nvcc is on PATH; without it Trident builds CPU-only.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config python3
  python3-venv             # the TensorBoard round-trip test pip-installs tensorboard into a venv
  libopenblas-openmp-dev   # CPU GEMM, on the same OpenMP threads as Trident's loops
  libopenmpi-dev openmpi-bin  # multi-rank launch and the MPI communicator
  protobuf-compiler libprotobuf-dev  # the config schema
  libspdlog-dev libfmt-dev # logging
  libcli11-dev             # command-line arguments
  nlohmann-json3-dev       # safetensors headers, metrics.jsonl, JSON configs
  libxxhash-dev            # checkpoint checksums (XXH3-64)
  libisal-dev              # CRC-32C of TensorBoard event files (ISA-L)
  libgtest-dev             # tests
  fortunes                 # the default training corpus (English text)
  iproute2                 # the two-node test's network namespaces (ip netns)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if command -v nvcc >/dev/null 2>&1; then
  echo "setup: nvcc found ($(nvcc --version | tail -1)); building with the CUDA backend"
else
  echo "setup: no nvcc on PATH; building CPU-only"
fi
BUILD_DIR="${TRIDENT_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
