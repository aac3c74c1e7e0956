#!/usr/bin/env bash
# two_nodes.sh TRIDENT COMPARE OUT_DIR CONFIG [--set ...]: Trident across two "nodes" on one machine, the way a
# multi-node mpirun job runs, and compared bit for bit with the same job on one node.
#
# The two nodes are two network namespaces joined by a veth pair (private addresses that exist only inside
# them), each with its own host name (a UTS namespace per process). mpirun runs on node1 with a hostfile
# naming node1 and node2, and starts its daemon on node2 through an rsh agent that enters node2's namespaces
# instead of ssh. Open MPI then sees two hosts: ranks on different nodes talk over TCP on the veth pair.
#
#   1. dp 4, two ranks per node, against dp 4 on one node: losses, val losses, grad norms and final weights
#      identical;
#   2. tp 2 x dp 2, each tp group inside a node (--map-by slot), against the same on one node: identical, and
#      rank 0 reports its node; the same layout mapped round-robin (--map-by node) must warn that its tp groups
#      span nodes;
#   3. a rank on node2 stopped (SIGSTOP) mid-run: the watchdog must name it within comm.timeout_s and the
#      job must end on both nodes.
#
# Needs root (network namespaces); exits 77 (ctest: skipped) with the reason where they cannot be made.
# Everything it creates (namespaces, processes) is removed on exit, whatever happens.
set -uo pipefail
trident=$(realpath "$1") compare=$(realpath "$2") out=$3
shift 3
cfg=("$@")
mkdir -p "$out" && out=$(realpath "$out")

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAILED: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (this is uid $(id -u))"
for tool in ip unshare mpirun; do command -v "$tool" >/dev/null || skip "no '$tool' on PATH"; done

# ---- two nodes --------------------------------------------------------------------------------------------
tag="trident$$"
ns1="${tag}-node1" ns2="${tag}-node2"
cleanup() {
  for ns in "$ns1" "$ns2"; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add "$ns1" 2>"$out/netns.err" || skip "cannot create a network namespace: $(cat "$out/netns.err")"
ip netns add "$ns2" || fail "cannot create the second network namespace"
# The pair is made inside the namespaces, so no interface name is ever taken in the machine's own namespace.
ip link add eth0 netns "$ns1" type veth peer name eth0 netns "$ns2" || fail "cannot create the veth pair"
ip -n "$ns1" addr add 10.77.0.1/24 dev eth0 && ip -n "$ns2" addr add 10.77.0.2/24 dev eth0 &&
  ip -n "$ns1" link set lo up && ip -n "$ns2" link set lo up &&
  ip -n "$ns1" link set eth0 up && ip -n "$ns2" link set eth0 up || fail "cannot configure the veth pair"

# on_node HOST CMD...: CMD inside HOST's network namespace, under HOST's host name.
agent="$out/rsh_agent.sh"
cat >"$agent" <<EOF
#!/usr/bin/env bash
# rsh agent for mpirun: rsh_agent.sh HOST CMD... runs CMD on "HOST" (its namespaces) instead of over ssh.
host=\$1
shift
exec ip netns exec "$tag-\$host" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$*"' "\$host" "\$@"
EOF
chmod +x "$agent"
on_node() { "$agent" "$@"; }
printf 'node1 slots=2\nnode2 slots=2\n' >"$out/hostfile"

# Open MPI, as a multi-node job would be told: the hostfile, the launch agent, TCP on the nodes' network only,
# and the variables that change arithmetic forwarded to every node (-x).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPI_NET=(--mca oob_tcp_if_include 10.77.0.0/24 --mca btl_tcp_if_include 10.77.0.0/24 --mca btl self,vader,tcp)
two_nodes() {
  on_node node1 mpirun --hostfile "$out/hostfile" --mca plm_rsh_agent "$agent" "${MPI_NET[@]}" \
    -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS "$@"
}
two_nodes_by_slot() { two_nodes --map-by slot "$@"; }  # ranks fill node1, then node2
two_nodes_by_node() { two_nodes --map-by node "$@"; }  # ranks alternate between the nodes
one_node() { mpirun --oversubscribe "$@"; }

# ---- same job, one node and two -------------------------------------------------------------------------
# train LAUNCHER NAME NP [--set ...]: trains the config into $out/NAME, console output in $out/NAME.log.
train() {
  local launcher=$1 name=$2 np=$3
  shift 3
  rm -rf "${out:?}/$name"
  local start=$SECONDS
  "$launcher" -np "$np" "$trident" train "${cfg[@]}" "$@" --out "$out/$name" >"$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc after $((SECONDS - start)) s"
  return $rc
}

# same RUN_A RUN_B: the two runs logged the same losses, val losses and grad norms, bit for bit, and ended with
# the same weights (compare_runs --bitwise).
same() {
  local a=$1 b=$2
  grep -q '"loss"' "$out/$a/metrics.jsonl" 2>/dev/null || fail "$a logged no losses"
  "$compare" "$out/$a" "$out/$b" --bitwise >"$out/$a.vs.$b.log" 2>&1 ||
    fail "$b differs from $a: $(tail -4 "$out/$a.vs.$b.log" | paste -sd' ')"
  echo "$a = $b: losses, val losses, grad norms and final weights identical"
}

train one_node dp4_one 4 || fail "dp 4 on one node failed: $(tail -3 "$out/dp4_one.log")"
train two_nodes_by_slot dp4_two 4 || fail "dp 4 on two nodes failed: $(tail -5 "$out/dp4_two.log")"
same dp4_one dp4_two

train one_node tp2dp2_one 4 --set parallel.tensor=2 ||
  fail "tp 2 x dp 2 on one node failed: $(tail -3 "$out/tp2dp2_one.log")"
train two_nodes_by_slot tp2dp2_two 4 --set parallel.tensor=2 ||
  fail "tp 2 x dp 2 on two nodes failed: $(tail -5 "$out/tp2dp2_two.log")"
same tp2dp2_one tp2dp2_two
grep -E "node: host node1 \(node 0 of 2\), 2 local ranks" "$out/tp2dp2_two.log" ||
  fail "rank 0 did not report its node: $(grep -m2 'node' "$out/tp2dp2_two.log")"
grep -q "spans nodes" "$out/tp2dp2_two.log" && fail "tp inside the nodes was warned about as spanning them"

# Ranks dealt round-robin: each tp group {0,1} and {2,3} now has a rank on each node, which must be warned of.
train two_nodes_by_node tp2dp2_across 4 --set parallel.tensor=2 --set train.steps=2 ||
  fail "tp 2 x dp 2 mapped by node failed: $(tail -5 "$out/tp2dp2_across.log")"
grep -E "tensor-parallel groups tp\[0,1\], tp\[2,3\] span nodes node1, node2" "$out/tp2dp2_across.log" ||
  fail "no warning for tp groups spanning the nodes: $(grep -m3 -i 'warn' "$out/tp2dp2_across.log" | paste -sd' ')"

# ---- a stuck rank on node2 ----------------------------------------------------------------------------------
# A long run with a short watchdog timeout; once it has logged a step, rank 3 (on node2) is stopped.
timeout_s=8
rm -rf "$out/stuck"
start=$SECONDS
two_nodes_by_slot -np 4 "$trident" train "${cfg[@]}" --set train.steps=100000 --set train.log_interval=1 \
  --set comm.timeout_s=$timeout_s --out "$out/stuck" >"$out/stuck.log" 2>&1 &
job=$!
for _ in $(seq 600); do
  [ -s "$out/stuck/metrics.jsonl" ] && grep -q '"step":2' "$out/stuck/metrics.jsonl" && break
  kill -0 $job 2>/dev/null || fail "the run ended before its second step: $(tail -5 "$out/stuck.log")"
  sleep 0.1
done
victim=""
for pid in $(ip netns pids "$ns2"); do
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=3' &&
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = trident ]; then
    victim=$pid
  fi
done
[ -n "$victim" ] || fail "found no rank 3 among node2's processes"
kill -STOP "$victim"
stopped=$SECONDS
echo "stopped rank 3 (pid $victim on node2) at step $(grep -c '"step"' "$out/stuck/metrics.jsonl")"
# The job must end by itself: the watchdog's timeout plus the time to report and abort.
for _ in $(seq $(((timeout_s + 60) * 10))); do
  kill -0 $job 2>/dev/null || break
  sleep 0.1
done
if kill -0 $job 2>/dev/null; then
  fail "the job still runs $((SECONDS - stopped)) s after rank 3 stopped (timeout $timeout_s s)"
fi
wait $job
rc=$?
echo "stuck: exit $rc, $((SECONDS - stopped)) s after rank 3 stopped ($((SECONDS - start)) s in all)"
[ $rc -ne 0 ] || fail "the job with a stopped rank exited 0"
grep -E 'ranks that never entered it: 3$|ranks that never entered it: 3[^0-9,]' "$out/stuck.log" ||
  fail "the watchdog did not name rank 3: $(grep -m3 -iE 'watchdog|did not complete' "$out/stuck.log" | paste -sd' ')"
if pids=$(ip netns pids "$ns2") && [ -n "$(for p in $pids; do [ "$p" != "$victim" ] && cat "/proc/$p/comm" 2>/dev/null; done | grep -x trident)" ]; then
  fail "trident processes are left on node2 after the job ended"
fi
echo "PASSED: two nodes equal one node; the stopped rank was named"
