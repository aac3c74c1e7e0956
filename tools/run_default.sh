#!/usr/bin/env bash
# The main job on a fresh machine: install, build, turn the fortunes corpus into token shards, train the tiny
# GPT-2 on CPU (progress every few steps), and print a text sample from it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
BUILD_DIR="${TRIDENT_BUILD_DIR:-build}"
if [ ! -f data/fortunes/train.bin ]; then
  "$BUILD_DIR"/trident data prepare --input /usr/share/games/fortunes --out data/fortunes
fi
"$BUILD_DIR"/trident train configs/gpt2_tiny.pbtxt --out runs/gpt2_tiny "$@"
