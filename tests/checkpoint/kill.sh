#!/usr/bin/env bash
# kill.sh TRIDENT COMPARE OUT CONFIG [--set ...]: crash safety. A run checkpointing every 3 steps is killed with
# SIGKILL at 20 random moments (mid-step and mid-save: TRIDENT_TEST_SAVE_DELAY_MS holds each save open between
# the rank files and the manifest) and restarted each time with --resume auto. Every restart must load the
# newest complete checkpoint there was when it started, or none if there was none (never a *.tmp one), and the
# finished run's losses, val losses, grad norms and weights must equal an uninterrupted run's bit for bit.
set -uo pipefail
trident="$1" compare="$2" out="$3"
shift 3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$out"
mkdir -p "$out"
args=("$@" --set checkpoint.interval=3)
"$trident" train "${args[@]}" --out "$out/full" > "$out/full.log" 2>&1 || { tail "$out/full.log"; fail "the uninterrupted run failed"; }
# A save after step N promises every metrics row of step N is written (a kill right after it must not lose the
# val loss of step N): in the uninterrupted run each "val loss" line comes before its step's "saved" line.
evals=$(grep -o "step *[0-9]*/[0-9]* | val loss" "$out/full.log" | grep -o "step *[0-9]*" | grep -o "[0-9]*")
[ -n "$evals" ] || fail "the uninterrupted run logged no val loss"
for n in $evals; do
  saved_at=$(grep -n "checkpoint: step $n saved" "$out/full.log" | head -1 | cut -d: -f1)
  val_at=$(grep -n "step *$n/[0-9]* | val loss" "$out/full.log" | head -1 | cut -d: -f1)
  [ -z "$saved_at" ] || [ "$val_at" -lt "$saved_at" ] || fail "step $n was saved before its val loss was logged"
done
RANDOM=20261206  # the same kill moments every time
ck="$out/killed/checkpoints"
# The steps whose saves are complete (a manifest; never a *.tmp directory), one per line.
complete_steps() {
  local d name
  for d in "$ck"/step_*; do
    name=$(basename "$d")
    [[ "$name" == *.tmp ]] || [ ! -f "$d/manifest.pbtxt" ] || echo $((10#${name#step_}))
  done 2>/dev/null
}
mid_save=0
for i in $(seq 1 20); do
  log="$out/restart_$i.log"
  # What a restart must load: the newest save complete when it starts. (A kill can land after a save's manifest and
  # before its log line, and a later save can delete that directory under checkpoint.keep: neither the logs
  # nor the directories afterwards tell.)
  before=$(complete_steps)
  TRIDENT_TEST_SAVE_DELAY_MS=300 "$trident" train "${args[@]}" --out "$out/killed" --resume auto > "$log" 2>&1 &
  pid=$!
  sleep "$(printf '%d.%02d' $((RANDOM % 2)) $((RANDOM % 100)))"
  sleep 0.4
  kill -KILL "$pid" 2>/dev/null || { tail "$log"; fail "restart $i ended before its kill (train.steps too small?)"; }
  wait "$pid" 2>/dev/null
  if ls -d "$ck"/*.tmp > /dev/null 2>&1; then mid_save=$((mid_save + 1)); fi
  loaded=$(grep -o "resumed from auto after step [0-9]*" "$log" | grep -o "[0-9]*$" || true)
  newest=$(sort -n <<<"$before" | tail -1)
  [ "${loaded:-}" = "$newest" ] || fail "restart $i resumed from step '${loaded:-none}', not the newest save complete" \
    "when it started ('${newest:-none}'; complete: $(echo $before))"
  grep -q "\.tmp" <(grep "resumed from" "$log") && fail "restart $i loaded a temporary directory"
  echo "kill $i: resumed after step ${loaded:-0}, $(ls -d "$ck"/step_* 2>/dev/null | wc -l) step directories"
done
[ "$mid_save" -ge 1 ] || fail "no kill landed inside a save"
"$trident" train "${args[@]}" --out "$out/killed" --resume auto > "$out/final.log" 2>&1 ||
  { tail "$out/final.log"; fail "the final restart failed"; }
echo "$mid_save of 20 kills landed inside a save (a *.tmp directory left behind)"
"$compare" "$out/full" "$out/killed" --bitwise
