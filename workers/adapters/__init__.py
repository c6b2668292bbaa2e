"""Architecture adapters: tensor names and layouts → per-head matrices and MLP junctions."""

from workers.adapters.base import ArchitectureAdapter, AttentionWeights, MlpWeights, ModelShape, TensorShapes
from workers.adapters.registry import ADAPTERS, adapter_for, supported_model_types

__all__ = [
    "ADAPTERS",
    "ArchitectureAdapter",
    "AttentionWeights",
    "MlpWeights",
    "ModelShape",
    "TensorShapes",
    "adapter_for",
    "supported_model_types",
]
