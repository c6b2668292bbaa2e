"""Pick the adapter for a checkpoint from its config.json ``model_type``."""

from __future__ import annotations

from typing import Any

from workers.adapters.base import ArchitectureAdapter, TensorShapes
from workers.adapters.bert import BertAdapter
from workers.adapters.chain import ChainAdapter
from workers.adapters.distilbert import DistilBertAdapter
from workers.adapters.gpt2 import Gpt2Adapter
from workers.adapters.llama import LlamaAdapter
from workers.adapters.mixtral import MixtralAdapter
from workers.adapters.neox import NeoxAdapter
from workers.adapters.opt import OptAdapter
from workers.adapters.phi3 import Phi3Adapter
from workers.errors import UnsupportedArchitectureError

ADAPTERS: tuple[type[ArchitectureAdapter], ...] = (
    LlamaAdapter,
    Gpt2Adapter,
    NeoxAdapter,
    BertAdapter,
    DistilBertAdapter,
    Phi3Adapter,
    OptAdapter,
    MixtralAdapter,
    ChainAdapter,
)
"""Every adapter, in the DESIGN §3 order of families."""


def supported_model_types() -> list[str]:
    """All ``model_type`` values flagscan can scan."""
    return [t for adapter in ADAPTERS for t in adapter.model_types]


def adapter_for(config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> ArchitectureAdapter:
    """Instantiate the adapter for ``config['model_type']``; ``shapes`` (name → stored shape) is optional.

    Raises:
        UnsupportedArchitectureError: listing the supported families.
    """
    model_type = config.get("model_type")
    for adapter in ADAPTERS:
        if model_type in adapter.model_types:
            return adapter(config, names, shapes=shapes)
    supported = ", ".join(supported_model_types())
    raise UnsupportedArchitectureError(f"architecture {model_type!r} is not supported; supported: {supported}")
