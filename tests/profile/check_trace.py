"""A data-parallel 2 Chrome trace (issue 15, part 4): the file parses, both ranks are in it (pid = rank), and on
each rank a gradient bucket's all-reduce (on its communication row) is in flight while a backward compute span
of the same rank runs, one that starts after the all-reduce was launched: the overlap DDP-style bucketing is
for.

usage: check_trace.py TRACE.json
"""
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        events = json.load(f)["traceEvents"]
    spans = [e for e in events if e.get("ph") == "X"]
    pids = sorted({e["pid"] for e in spans})
    if pids != [0, 1]:
        sys.exit(f"ranks in the trace: {pids}, expected [0, 1]")
    for pid in pids:
        reduces = [e for e in spans if e["pid"] == pid and e["tid"] != 0 and e["cat"] == "comm dp"
                   and e["name"].startswith("all_reduce")]
        backward = [e for e in spans if e["pid"] == pid and e["tid"] == 0
                    and e.get("args", {}).get("phase") == "backward"]
        if not reduces or not backward:
            sys.exit(f"rank {pid}: {len(reduces)} all-reduce spans on a dp row, {len(backward)} backward spans")
        overlaps = [(r, b) for r in reduces for b in backward
                    if r["ts"] < b["ts"] < r["ts"] + r["dur"]]
        if not overlaps:
            sys.exit(f"rank {pid}: no backward span starts while a bucket all-reduce is in flight "
                     f"({len(reduces)} all-reduces, {len(backward)} backward spans)")
        r, b = overlaps[0]
        print(f"rank {pid}: {len(overlaps)} (all-reduce, backward) overlaps, e.g. '{r['name']}' "
              f"[{r['ts']:.0f}, {r['ts'] + r['dur']:.0f}] us and '{b['name']}' at {b['ts']:.0f} us")
    print("trace OK")


main()
