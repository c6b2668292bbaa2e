"""Parse and validate safetensors headers before any large allocation.

Format (safetensors README, "Format"): an 8-byte little-endian u64 ``N``, then ``N`` bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``, then the data
buffer. Offsets are relative to the buffer: a tensor's absolute bytes are ``8 + N + begin`` to ``8 + N + end``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

from workers.errors import CorruptFileError

HEADER_MAX_BYTES = 25_000_000
"""Same cap as huggingface_hub (``SAFETENSORS_MAX_HEADER_LENGTH``): a larger header is treated as hostile."""

HEADER_FIRST_READ_BYTES = 100_000
"""First range read; huggingface_hub reports ~97% of Hub safetensors headers fit in 100 kB."""

DTYPE_BYTES: dict[str, int] = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
"""Bytes per element of every dtype flagscan accepts."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in a safetensors header; ``begin``/``end`` are absolute file offsets."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        """Size of the tensor's data in bytes."""
        return self.end - self.begin


@dataclass(frozen=True)
class SafetensorsHeader:
    """A validated header: tensors by name, the data-buffer start and the file size it was checked against."""

    tensors: dict[str, TensorInfo]
    data_start: int
    file_size: int


def header_length(prefix: bytes, file_size: int, context: str) -> int:
    """Read ``N`` from the first 8 bytes and check it against the cap and the file size.

    Raises:
        CorruptFileError: if the prefix is short or ``N`` is impossible.
    """
    if len(prefix) < 8 or file_size < 8:
        raise CorruptFileError(f"{context}: file is {file_size} bytes, too short to be safetensors")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > HEADER_MAX_BYTES:
        raise CorruptFileError(f"{context}: header claims {n} bytes, over the {HEADER_MAX_BYTES}-byte cap")
    if 8 + n > file_size:
        raise CorruptFileError(f"{context}: header claims {n} bytes but the file has only {file_size}")
    return n


def parse_header(raw: bytes, file_size: int, context: str) -> SafetensorsHeader:
    """Validate header JSON ``raw`` (the N bytes after the length) against ``file_size``.

    Checks, in order: 1. the JSON is an object; 2. each entry has a known dtype, a non-negative
    integer shape and ``0 ≤ begin ≤ end``; 3. ``end − begin`` equals ``prod(shape) × itemsize``;
    4. every tensor lies inside the file; 5. no two tensors overlap.

    Raises:
        CorruptFileError: naming the file (``context``) and the offending tensor.
    """
    # 1. JSON object.
    try:
        entries: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptFileError(f"{context}: header is not valid JSON ({err})") from err
    if not isinstance(entries, dict):
        raise CorruptFileError(f"{context}: header is not a JSON object")
    data_start = 8 + len(raw)
    tensors: dict[str, TensorInfo] = {}
    for name, entry in entries.items():
        if name == "__metadata__":
            continue
        # 2. Well-formed entry.
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise CorruptFileError(f"{context}: tensor {name!r} lacks dtype/shape/data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise CorruptFileError(f"{context}: tensor {name!r} has unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise CorruptFileError(f"{context}: tensor {name!r} has invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise CorruptFileError(f"{context}: tensor {name!r} has invalid data_offsets {offsets!r}")
        # 3. Byte length matches dtype and shape.
        expected = math.prod(shape) * DTYPE_BYTES[dtype]
        if offsets[1] - offsets[0] != expected:
            raise CorruptFileError(
                f"{context}: tensor {name!r} ({dtype}, shape {shape}) needs {expected} bytes "
                f"but its offsets span {offsets[1] - offsets[0]}"
            )
        # 4. Inside the file.
        begin, end = data_start + offsets[0], data_start + offsets[1]
        if end > file_size:
            raise CorruptFileError(f"{context}: tensor {name!r} ends at byte {end}, past the file end {file_size}")
        tensors[name] = TensorInfo(name, dtype, tuple(shape), begin, end)
    # 5. No overlaps.
    ordered = sorted(tensors.values(), key=lambda t: (t.begin, t.end))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.begin < before.end:
            raise CorruptFileError(f"{context}: tensors {before.name!r} and {after.name!r} overlap")
    return SafetensorsHeader(tensors, data_start, file_size)
