"""The weight-source interface: config, a tensor index, and reads of named tensors."""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch

from workers.errors import CorruptFileError, NoSafetensorsError
from workers.safetensors_header import TensorInfo

TORCH_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
"""safetensors dtype names to torch dtypes (all little-endian on disk)."""

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
"""Checkpoint formats that execute code when loaded; flagscan refuses them and never unpickles."""

CONFIG_MAX_BYTES = 4 * 1024 * 1024
"""A config.json or index larger than this is treated as hostile."""


@dataclass(frozen=True)
class TensorLocation:
    """Where a tensor lives: the file (relative to the repo root) and its validated header entry."""

    file: str
    info: TensorInfo


def decode_tensor(buffer: bytes | bytearray | memoryview, info: TensorInfo) -> torch.Tensor:
    """Turn a tensor's raw little-endian bytes into a tensor of its dtype and shape (one copy)."""
    if len(buffer) != info.nbytes:
        raise CorruptFileError(f"tensor {info.name!r}: got {len(buffer)} bytes, expected {info.nbytes}")
    if info.nbytes == 0:
        return torch.empty(info.shape, dtype=TORCH_DTYPES[info.dtype])
    flat = torch.frombuffer(bytearray(buffer), dtype=TORCH_DTYPES[info.dtype])
    return flat.reshape(info.shape)


def parse_json(raw: bytes, context: str) -> dict[str, Any]:
    """Parse a small JSON object (config.json, an index), with a typed error on failure."""
    if len(raw) > CONFIG_MAX_BYTES:
        raise CorruptFileError(f"{context}: {len(raw)} bytes, over the {CONFIG_MAX_BYTES}-byte cap")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptFileError(f"{context}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise CorruptFileError(f"{context}: not a JSON object")
    return data


def select_weight_files(files: list[str], context: str, read_index: Any) -> list[str]:
    """Choose the safetensors files of a checkpoint from a repo listing.

    Root-level files only (subfolders hold ONNX exports, adapters, …). A ``*.safetensors.index.json``
    names the shards; otherwise every root ``*.safetensors`` file is read. ``read_index(name)`` returns
    the parsed index. Raises `NoSafetensorsError`, naming any pickle checkpoint found.
    """
    root = [f for f in files if "/" not in f]
    indexes = sorted(f for f in root if f.endswith(".safetensors.index.json"))
    if indexes:
        index = read_index(indexes[0])
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise CorruptFileError(f"{context}: {indexes[0]} has no valid weight_map")
        shards = sorted(set(weight_map.values()))
        for shard in shards:
            if "/" in shard or shard.startswith(".") or not shard.endswith(".safetensors"):
                raise CorruptFileError(f"{context}: {indexes[0]} names an invalid shard {shard!r}")
        return shards
    weights = sorted(f for f in root if f.endswith(".safetensors"))
    if weights:
        return weights
    pickles = sorted(f for f in files if f.endswith(PICKLE_SUFFIXES))
    if pickles:
        raise NoSafetensorsError(
            f"{context}: only pickle checkpoints ({', '.join(pickles[:3])}); flagscan reads safetensors only "
            "and never unpickles files from the Hub"
        )
    raise NoSafetensorsError(f"{context}: no *.safetensors files")


class WeightSource(ABC):
    """A checkpoint that can be read tensor by tensor.

    Subclasses fill ``files`` and ``index`` when opened; ``read`` returns tensors in their stored
    dtype and counts the payload bytes it transferred in ``bytes_read`` (thread-safe).
    """

    model_id: str
    revision: str | None
    commit_sha: str | None
    files: list[str]
    index: dict[str, TensorLocation]

    def __init__(self) -> None:
        self.bytes_read = 0
        self._lock = threading.Lock()

    def _count(self, nbytes: int) -> None:
        with self._lock:
            self.bytes_read += nbytes

    @property
    def context(self) -> str:
        """Human-readable name for error messages: repo and revision, or the directory."""
        return f"{self.model_id}@{self.commit_sha or self.revision or 'local'}"

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The checkpoint's parsed config.json."""

    @abstractmethod
    def read(self, names: list[str]) -> dict[str, torch.Tensor]:
        """Read the named tensors (stored dtype); raises `CorruptFileError` on a short or bad read."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or file handles."""
