"""Plain MLPs and convolutional nets: consecutive weight matrices form a chain of ``mlp`` junctions."""

from __future__ import annotations

import re
from typing import Any

import torch

from workers.adapters.base import ArchitectureAdapter, AttentionWeights, MlpWeights, ModelShape, TensorShapes
from workers.errors import CorruptFileError, UnsupportedArchitectureError

_NOT_WEIGHTS = ("bias", "running_mean", "running_var", "num_batches_tracked")
"""Leaf names that are never weight matrices, used to order tensors when no shapes are given."""


def natural_key(name: str) -> list[str | int]:
    """Sort key comparing the digit runs of ``name`` as numbers: ``2.weight`` before ``10.weight``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def as_producer(W: torch.Tensor) -> torch.Tensor:
    """A weight that writes the junction, as (channels out, fan-in); a conv's (out, in, kh, kw) → (out, in·kh·kw)."""
    return W.reshape(W.shape[0], -1)


def as_consumer(W: torch.Tensor, channels: int, producer_is_conv: bool, name: str) -> torch.Tensor:
    """A weight that reads the junction's ``channels``, as (readouts, channels).

    A conv (out, in, kh, kw) reads each input pixel once per kernel offset: (out·kh·kw, in). A linear
    layer after a flatten of a conv's (channels, positions) output reads each channel once per position:
    (out, channels·positions) → (out·positions, channels).
    """
    if W.ndim > 2:
        consumer = W.movedim(1, -1).reshape(-1, W.shape[1])
    elif W.shape[1] != channels and producer_is_conv and W.shape[1] % channels == 0:
        consumer = W.reshape(W.shape[0], channels, -1).transpose(1, 2).reshape(-1, channels)
    else:
        consumer = W
    if consumer.shape[1] != channels:
        raise CorruptFileError(f"{name}: shape {tuple(W.shape)} cannot read the {channels} channels written before it")
    return consumer


class ChainAdapter(ArchitectureAdapter):
    """Weight tensors of ≥ 2 dims in natural name order; junction i is between weight i and weight i+1.

    1-D tensors (biases, norm gains, running statistics) are skipped; so is anything with a name-only
    fallback leaf in ``_NOT_WEIGHTS`` when shapes are not given. There is no attention and no read gain.
    """

    model_types = ("mlp", "cnn", "chain")

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        if shapes is not None:
            weights = [n for n in names if len(shapes[n]) >= 2]
        else:
            weights = [n for n in names if n.rsplit(".", 1)[-1] not in _NOT_WEIGHTS]
        self.weights = sorted(weights, key=natural_key)
        if len(self.weights) < 2:
            raise UnsupportedArchitectureError(f"{config.get('model_type')} checkpoint: fewer than two weight tensors")
        self.num_layers = len(self.weights) - 1

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model: only the number of junctions is defined."""
        return ModelShape(str(self.config.get("model_type")), self.num_layers, None, None, None, None, None)

    def layer_tensors(self, layer: int) -> list[str]:
        """The junction's producer and consumer weights."""
        return self.weights[layer : layer + 2]

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights | None:
        """A chain has no attention."""
        return None

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """The junction between weight ``layer`` and weight ``layer + 1``."""
        producer_name, consumer_name = self.weights[layer : layer + 2]
        W_in, W_out = tensors[producer_name], tensors[consumer_name]
        for name, W in ((producer_name, W_in), (consumer_name, W_out)):
            if W.ndim < 2:
                raise CorruptFileError(f"{name}: shape {tuple(W.shape)} is not a weight matrix")
        up = as_producer(W_in)
        down = as_consumer(W_out, up.shape[0], W_in.ndim > 2, consumer_name)
        return [MlpWeights(up=up, down=down)]
