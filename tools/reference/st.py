"""A tiny safetensors writer and reader on numpy (the `safetensors` package is deliberately not used).

Format: [u64 little-endian header length N][N bytes JSON header, space-padded to a multiple of 8][raw data].
Header: {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
offsets relative to the first data byte. Trident's reader is core/io/safetensors.cpp.
"""

import json
import os
import struct

import numpy as np

_TAGS = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
}
_BY_KIND = {(v.kind, v.itemsize): k for k, v in _TAGS.items()}


def save(path, tensors, metadata=None):
    """tensors: {name: numpy array}; metadata: {str: str}. Writes path.tmp, then renames it over path."""
    items = []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        tag = _BY_KIND.get((a.dtype.kind, a.dtype.itemsize))
        if tag is None:
            raise ValueError(f"{name}: unsupported dtype {a.dtype}")
        items.append((name, tag, a.astype(_TAGS[tag], copy=False)))
    # Largest element first: every tensor's offset stays a multiple of its element size.
    items.sort(key=lambda it: -it[2].dtype.itemsize)
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, tag, a in items:
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, a in items:
            f.write(a.tobytes())
    os.replace(tmp, path)


def load(path):
    """Returns ({name: numpy array}, metadata)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header length {n} beyond the file")
    header = json.loads(blob[8 : 8 + n])
    data = memoryview(blob)[8 + n :]
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        dt = _TAGS[e["dtype"]]
        b, end = e["data_offsets"]
        shape = tuple(e["shape"])
        if end - b != int(np.prod(shape, dtype=np.int64)) * dt.itemsize or end > len(data):
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {e['data_offsets']}")
        out[name] = np.frombuffer(data[b:end], dtype=dt).reshape(shape).copy()
    return out, metadata
