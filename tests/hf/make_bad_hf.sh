#!/usr/bin/env bash
# Writes the broken Hugging Face model directories the `import hf` CLI tests feed in, into $1, from the llama
# fixture (tests/hf/llama): one whose config.json asks for RoPE scaling, one without model.safetensors.
set -euo pipefail
src="$(dirname "$0")/llama"
d="$1"
rm -rf "$d/rope_scaling" "$d/no_weights"
mkdir -p "$d/rope_scaling" "$d/no_weights"
cp "$src/model.safetensors" "$d/rope_scaling/"
sed 's/^{$/{\n  "rope_scaling": {"rope_type": "linear", "factor": 2.0},/' "$src/config.json" > "$d/rope_scaling/config.json"
cp "$src/config.json" "$d/no_weights/"
