"""check_plot.py SVG X RUN_DIR...: SVG must parse as XML (stdlib only) and hold, for every run, one polyline
for its loss and one for its val loss (labelled "<name> loss" / "<name> val loss", as the legend says, the name
being the run's path less the leading directories all runs share), each with
one point per metrics.jsonl row of that kind, in step order; no other polyline; both axes with at least two
tick labels; the x axis labelled X (step or tokens); a legend entry per series."""
import json
import os
import pathlib
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def rows(run):
    loss, val = [], []
    for line in open(f"{run}/metrics.jsonl"):
        if line.strip():
            row = json.loads(line)
            if "step" in row and "loss" in row:
                loss.append(row["step"])
            if "step" in row and "val_loss" in row:
                val.append(row["step"])
    return loss, val


def run_names(runs):
    """Each run's legend name: its path less the leading directories all runs share, at least its last part."""
    parts = [pathlib.PurePath(os.path.normpath(r)).parts for r in runs]
    common = min(len(p) - 1 for p in parts)
    for k in range(common):
        if any(p[k] != parts[0][k] for p in parts):
            common = k
            break
    return [str(pathlib.PurePath(*p[common:])) for p in parts]


def main():
    svg, x_label, runs = sys.argv[1], sys.argv[2], [r.rstrip("/") for r in sys.argv[3:]]
    root = ET.parse(svg).getroot()
    if root.tag != NS + "svg":
        sys.exit(f"FAIL: {svg}: root element {root.tag}, not svg")
    polylines = {p.get("data-label"): p for p in root.iter(NS + "polyline")}
    n_polylines = sum(1 for _ in root.iter(NS + "polyline"))
    expected = {}
    for run, name in zip(runs, run_names(runs)):
        loss, val = rows(run)
        expected[f"{name} loss"] = len(loss)
        if val:
            expected[f"{name} val loss"] = len(val)
    if n_polylines != len(expected) or set(polylines) != set(expected):
        sys.exit(f"FAIL: {svg}: polylines {sorted(polylines)} ({n_polylines}), expected {sorted(expected)}")
    for label, n in expected.items():
        points = [tuple(map(float, p.split(","))) for p in polylines[label].get("points").split()]
        if len(points) != n:
            sys.exit(f"FAIL: {svg}: '{label}' has {len(points)} points, metrics.jsonl {n} rows")
        if any(b[0] < a[0] for a, b in zip(points, points[1:])):
            sys.exit(f"FAIL: {svg}: '{label}' goes backwards in x")
        dashed = polylines[label].get("stroke-dasharray") is not None
        if dashed != label.endswith("val loss"):
            sys.exit(f"FAIL: {svg}: '{label}' should be {'dashed' if label.endswith('val loss') else 'solid'}")
    texts = {}
    for g in root.iter(NS + "g"):
        texts[g.get("class")] = [t.text for t in g.iter(NS + "text")]
    for axis in ("x-ticks", "y-ticks"):
        if len(texts.get(axis, [])) < 2:
            sys.exit(f"FAIL: {svg}: fewer than two {axis} labels: {texts.get(axis)}")
    if sorted(texts.get("legend", [])) != sorted(expected):
        sys.exit(f"FAIL: {svg}: legend {texts.get('legend')}, expected {sorted(expected)}")
    x = [t.text for t in root.iter(NS + "text") if t.get("class") == "x-label"]
    if x != [x_label]:
        sys.exit(f"FAIL: {svg}: x axis label {x}, expected {x_label}")
    print(f"ok: {svg}: {n_polylines} polylines ({', '.join(f'{k}: {v} points' for k, v in expected.items())})")


if __name__ == "__main__":
    main()
