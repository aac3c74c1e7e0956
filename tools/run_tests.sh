#!/usr/bin/env bash
# The whole test suite: install, build, then every ctest test that needs no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
BUILD_DIR="${TRIDENT_BUILD_DIR:-build}"
cd "$BUILD_DIR"
ctest --output-on-failure -j 2 -LE gpu --timeout 600
