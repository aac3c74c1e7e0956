#!/usr/bin/env bash
# Writes the broken inputs the CLI tests feed to `trident train`, into $1.
set -euo pipefail
d="$1"
mkdir -p "$d"
printf 'model {\n  arch: "gpt2"\n  n_layer: 4 \n  d_model: [oops\n}\n' > "$d/garbled.pbtxt"
printf 'model { arch: "gpt2" n_layers: 4 }\n' > "$d/unknown_field.pbtxt"
cat > "$d/invalid_values.pbtxt" <<'CFG'
model { arch: "gpt2" n_layer: 2 d_model: 100 n_head: 3 vocab_size: 257 max_seq_len: 64 }
train { steps: 10 micro_batch_size: 2 global_batch_size: 4 seq_len: 32 }
optim { lr: -1 }
data { train_path: "x.bin" }
CFG
# A real shard cut short, and one whose header claims an unknown token dtype (3).
head -c 1000 "$d/fortunes/train.bin" > "$d/truncated.bin"
cp "$d/fortunes/val.bin" "$d/bad_dtype.bin"
printf '\x03' | dd of="$d/bad_dtype.bin" bs=1 seek=12 conv=notrunc status=none
mkdir -p "$d/no_run"
