"""Weights from a local directory, read through memory maps."""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import torch

from workers.errors import CorruptFileError, ModelNotFoundError
from workers.safetensors_header import header_length, parse_header
from workers.sources.base import (
    CONFIG_MAX_BYTES,
    TensorLocation,
    WeightSource,
    decode_tensor,
    parse_json,
    select_weight_files,
)


class LocalSource(WeightSource):
    """A checkpoint directory holding config.json and safetensors file(s), single or sharded."""

    def __init__(self, directory: str | Path) -> None:
        super().__init__()
        self.root = Path(directory).resolve()
        if not (self.root / "config.json").is_file():
            raise ModelNotFoundError(f"{self.root}: no config.json (not a model directory)")
        self.model_id = self.root.name
        self.revision = None
        self.commit_sha = None
        listing = [str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()]
        self.files = select_weight_files(listing, str(self.root), self._read_json)
        self._maps: dict[str, mmap.mmap] = {}
        self.index = {}
        for name in self.files:
            path = self.root / name
            if not path.is_file():
                raise CorruptFileError(f"{self.root}: index names {name} but the file is missing")
            size = path.stat().st_size
            if size < 8:
                raise CorruptFileError(f"{self.root.name}/{name}: {size} bytes, too short to be safetensors")
            with path.open("rb") as handle:
                self._maps[name] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            mm = self._maps[name]
            context = f"{self.root.name}/{name}"
            n = header_length(mm[:8], len(mm), context)
            header = parse_header(mm[8 : 8 + n], len(mm), context)
            for tensor, info in header.tensors.items():
                self.index[tensor] = TensorLocation(name, info)

    def _read_json(self, name: str) -> dict[str, Any]:
        path = self.root / name
        if path.stat().st_size > CONFIG_MAX_BYTES:
            raise CorruptFileError(f"{self.root.name}/{name}: over the {CONFIG_MAX_BYTES}-byte cap for JSON files")
        return parse_json(path.read_bytes(), f"{self.root.name}/{name}")

    def config(self) -> dict[str, Any]:
        """The directory's config.json."""
        return self._read_json("config.json")

    def read(self, names: list[str]) -> dict[str, torch.Tensor]:
        """Copy each named tensor out of its file's memory map."""
        out = {}
        for name in names:
            location = self.index[name]
            info = location.info
            out[name] = decode_tensor(self._maps[location.file][info.begin : info.end], info)
            self._count(info.nbytes)
        return out

    def close(self) -> None:
        """Unmap the files."""
        for mm in self._maps.values():
            mm.close()
        self._maps.clear()
