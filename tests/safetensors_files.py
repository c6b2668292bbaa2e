"""Build safetensors files byte by byte, including hostile ones, for tests."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any


def safetensors_bytes(header: dict[str, Any], data: bytes, declared_length: int | None = None) -> bytes:
    """``u64 N`` + N bytes of header JSON + data; ``declared_length`` overrides N to make a lying header."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    n = len(raw) if declared_length is None else declared_length
    return struct.pack("<Q", n) + raw + data


def write_repo(root: Path, repo: str, files: dict[str, bytes], config: dict[str, Any] | None = None) -> Path:
    """Create ``root/repo`` with the given files and a config.json."""
    path = root / repo
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config or {"model_type": "bert"}))
    for name, content in files.items():
        (path / name).write_bytes(content)
    return path
