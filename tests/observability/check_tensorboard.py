"""check_tensorboard.py RUN_DIR REQUIRED_TAGS: RUN_DIR/tb (every event file: a resumed run adds one), read with
the real tensorboard package, must hold
exactly what RUN_DIR/metrics.jsonl holds: every number of every row as a scalar whose tag is its JSON key
(nested keys and list indices joined with '/'), at the row's step (a row without one: the last step before it),
equal up to float32 rounding, and nothing else. The TFRecord framing and its masked CRC-32Cs are checked
byte by byte first, independently of tensorboard's reader. REQUIRED_TAGS: comma-separated tags that must be
there; one ending in '/' needs some tag under it."""
import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def masked_crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def check_framing(path):
    data = open(path, "rb").read()
    pos, records = 0, 0
    while pos < len(data):
        if pos + 12 > len(data):
            sys.exit(f"FAIL: {path}: a record header cut short at byte {pos}")
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        if length_crc != masked_crc32c(data[pos : pos + 8]):
            sys.exit(f"FAIL: {path}: record {records}: the length's masked CRC-32C is wrong")
        end = pos + 12 + length
        if end + 4 > len(data):
            sys.exit(f"FAIL: {path}: record {records} cut short")
        (data_crc,) = struct.unpack_from("<I", data, end)
        if data_crc != masked_crc32c(data[pos + 12 : end]):
            sys.exit(f"FAIL: {path}: record {records}: the data's masked CRC-32C is wrong")
        pos, records = end + 4, records + 1
    return records


def flatten(value, tag, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{tag}/{k}" if tag else k, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(v, f"{tag}/{i}", out)
    elif isinstance(value, bool):
        out.append((tag, 1.0 if value else 0.0))
    elif isinstance(value, (int, float)):
        out.append((tag, float(value)))


def expected_scalars(metrics_path):
    expected, step = {}, 0
    for line in open(metrics_path):
        if not line.strip():
            continue
        row = json.loads(line)
        if isinstance(row.get("step"), int):
            step = row["step"]
        pairs = []
        for key, value in row.items():
            if key != "step":
                flatten(value, key, pairs)
        for tag, value in pairs:
            expected.setdefault(tag, []).append((step, value))
    return expected


def main():
    run, required = sys.argv[1], [t for t in sys.argv[2].split(",") if t]
    files = sorted(glob.glob(os.path.join(run, "tb", "events.out.tfevents.*")))
    if not files:
        sys.exit(f"FAIL: no event file in {run}/tb")
    records = sum(check_framing(f) for f in files)

    acc = EventAccumulator(os.path.join(run, "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    if acc.file_version != 2.0:
        sys.exit(f"FAIL: file version {acc.file_version}, expected 2 (brain.Event:2)")
    got_tags = set(acc.Tags()["scalars"])
    expected = expected_scalars(os.path.join(run, "metrics.jsonl"))
    if got_tags != set(expected):
        sys.exit(f"FAIL: tags differ: only in TensorBoard {sorted(got_tags - set(expected))}, "
                 f"only in metrics.jsonl {sorted(set(expected) - got_tags)}")
    checked = 0
    for tag, want in expected.items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if len(got) != len(want):
            sys.exit(f"FAIL: {tag}: {len(got)} events in TensorBoard, {len(want)} rows in metrics.jsonl")
        for (gs, gv), (ws, wv) in zip(got, want):
            # float32 rounding: the value nearest the JSON double, within half a float32 ulp of it.
            f32 = struct.unpack("<f", struct.pack("<f", wv))[0]
            if gs != ws or not (gv == f32 or abs(gv - wv) <= abs(wv) * 2.0 ** -24):
                sys.exit(f"FAIL: {tag}: TensorBoard has step {gs} value {gv!r}, metrics.jsonl step {ws} value {wv!r}")
            checked += 1
    for tag in required:
        if not (tag in got_tags if not tag.endswith("/") else any(t.startswith(tag) for t in got_tags)):
            sys.exit(f"FAIL: required tag {tag} is not in TensorBoard (tags: {sorted(got_tags)})")
    print(f"ok: {len(files)} event file(s) in {run}/tb: {records} records with valid masked CRC-32C; {len(got_tags)} tags, {checked} values "
          f"equal to metrics.jsonl; required {required}")


if __name__ == "__main__":
    main()
