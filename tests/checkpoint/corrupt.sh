#!/usr/bin/env bash
# corrupt.sh TRIDENT OUT CONFIG [--set ...]: one run with checkpoints at steps 4 and 8, then every way a
# checkpoint can be broken, each refused with one message naming the file and tensor (or skipped by
# --resume auto, which falls back to the previous complete checkpoint and says so).
set -uo pipefail
trident="$1" out="$2"
shift 2
fail() { echo "FAIL: $*"; exit 1; }
# expect PATTERN CMD...: CMD must fail with PATTERN in its output.
expect() {
  local pattern="$1"
  shift
  local text
  if text=$("$@" 2>&1); then echo "$text" | tail -5; fail "succeeded, expected /$pattern/"; fi
  echo "$text" | grep -Eq "$pattern" || { echo "$text" | tail -5; fail "expected /$pattern/"; }
}
rm -rf "$out"
mkdir -p "$out"
"$trident" train "$@" --set train.steps=10 --set checkpoint.interval=4 --set checkpoint.keep=3 --out "$out/run" \
  > "$out/first.log" 2>&1 || { tail "$out/first.log"; fail "the first run failed"; }
ck="$out/run/checkpoints"
[ "$(cat "$ck/latest")" = step_00000008 ] || fail "latest names $(cat "$ck/latest")"
resume() { "$trident" train "$@" --set train.steps=10 --set checkpoint.interval=4 --out "$out/again"; }
fresh() { rm -rf "$out/c" && cp -r "$ck/step_00000004" "$out/c"; }

fresh; printf '\xff' | dd of="$out/c/rank_00000.bin" bs=1 seek=1000 conv=notrunc status=none
expect "rank_00000.bin: the piece of 'model.embed.wte' at byte 0: checksum mismatch" resume "$@" --resume "$out/c"
fresh; truncate -s 100 "$out/c/rank_00000.bin"
expect "rank_00000.bin has 100 bytes, the manifest says" resume "$@" --resume "$out/c"
fresh; rm "$out/c/rank_00000.bin"
expect "rank_00000.bin is missing" resume "$@" --resume "$out/c"
fresh; rm "$out/c/manifest.pbtxt"
expect "has no manifest .*not a complete checkpoint" resume "$@" --resume "$out/c"
fresh
expect "holds another model" resume "$@" --set model.n_layer=2 --resume "$out/c"
# A piece the manifest no longer lists (the first piece of the first tensor dropped).
fresh
awk 'BEGIN { skip = 0; done = 0 }
     !done && /^  pieces \{/ { skip = 1; next }
     skip && /^  \}/ { skip = 0; done = 1; next }
     !skip { print }' "$ck/step_00000004/manifest.pbtxt" > "$out/c/manifest.pbtxt"
expect "the stored pieces of 'model.embed.wte' cover 0 of the [0-9]+ elements this rank needs \(a piece is missing\)" \
  resume "$@" --resume "$out/c"
# A piece that claims more than its file holds.
fresh
sed -i '0,/^    bytes: /s/^    bytes: [0-9]*/    bytes: 99999999/' "$out/c/manifest.pbtxt"
expect "a piece of 'model.embed.wte' lies outside its tensor or file" resume "$@" --resume "$out/c"
# --resume auto: a crashed save (*.tmp) is never loaded, and a corrupt newest one is skipped for step 4.
mkdir -p "$ck/step_00000009.tmp"
printf '\xff' | dd of="$ck/step_00000008/rank_00000.bin" bs=1 seek=2000 conv=notrunc status=none
text=$("$trident" train "$@" --set train.steps=10 --set checkpoint.interval=4 --out "$out/run" --resume auto 2>&1) ||
  { echo "$text" | tail -5; fail "--resume auto failed"; }
echo "$text" | grep -q "skipping .*step_00000008: .*checksum mismatch" || { echo "$text" | tail; fail "no skip message"; }
echo "$text" | grep -q "resumed from auto after step 4" || { echo "$text" | tail; fail "did not resume from step 4"; }
echo "corrupt checkpoints: every case refused or skipped"
