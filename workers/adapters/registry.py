"""Pick the adapter for a checkpoint from its config.json ``model_type``."""

from __future__ import annotations

from typing import Any

from workers.adapters.base import ArchitectureAdapter
from workers.adapters.bert import BertAdapter
from workers.adapters.llama import LlamaAdapter
from workers.errors import UnsupportedArchitectureError

ADAPTERS: tuple[type[ArchitectureAdapter], ...] = (LlamaAdapter, BertAdapter)
"""Every adapter, in the DESIGN §3 order of families."""


def supported_model_types() -> list[str]:
    """All ``model_type`` values flagscan can scan."""
    return [t for adapter in ADAPTERS for t in adapter.model_types]


def adapter_for(config: dict[str, Any], names: set[str]) -> ArchitectureAdapter:
    """Instantiate the adapter for ``config['model_type']``.

    Raises:
        UnsupportedArchitectureError: listing the supported families.
    """
    model_type = config.get("model_type")
    for adapter in ADAPTERS:
        if model_type in adapter.model_types:
            return adapter(config, names)
    supported = ", ".join(supported_model_types())
    raise UnsupportedArchitectureError(f"architecture {model_type!r} is not supported; supported: {supported}")
