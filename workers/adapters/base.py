"""The adapter interface: map a checkpoint's config.json and tensor names to attention heads and MLP junctions.

Conventions (DESIGN §2). Every matrix acts as ``y = W x`` on column vectors:

- ``q`` (H, d_head, d_model), ``k`` and ``v`` (H_kv, d_head, d_model): per-head read matrices;
- ``o`` (H, d_model, d_head): per-head write matrices, ``out = Σ_h o[h] z_h``;
- ``up``/``gate`` (d_ff, d_model) and ``down`` (d_model, d_ff).

A ``read_gain`` is the gain γ (d_model,) of the norm in front of a sublayer's read, folded in as ``C · diag(γ)``.

Adapters see tensor names, and optionally their shapes: names suffice for the transformer families, whose
layouts config.json pins down; the generic chain needs shapes to tell 1-D vectors from weight matrices.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from workers.errors import CorruptFileError, UnsupportedArchitectureError

TensorShapes = Mapping[str, tuple[int, ...]]
"""Tensor name → stored shape, as the safetensors headers declare it."""


@dataclass(frozen=True)
class ModelShape:
    """Sizes read from config.json and checked against the tensors."""

    architecture: str
    num_layers: int
    num_heads: int | None
    num_kv_heads: int | None
    head_dim: int | None
    hidden_size: int | None
    intermediate_size: int | None


@dataclass
class AttentionWeights:
    """One layer's attention as per-head matrices (see module docstring)."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    o: torch.Tensor
    read_gain: torch.Tensor | None = None

    @property
    def group_size(self) -> int:
        """Query heads per K/V head (1 for MHA, H for MQA)."""
        return self.q.shape[0] // self.k.shape[0]


@dataclass
class MlpWeights:
    """One MLP (or one expert): producer(s) ``up`` and optional ``gate``, consumer ``down``."""

    up: torch.Tensor
    down: torch.Tensor
    gate: torch.Tensor | None = None
    expert: int | None = None
    read_gain: torch.Tensor | None = None


def detect_prefix(names: set[str] | list[str], suffix: str, context: str) -> str:
    """The prefix under which ``suffix`` (e.g. ``layers.0.self_attn.q_proj.weight``) is stored.

    Checkpoints save the same module as ``model.layers.0…`` (task model) or ``layers.0…`` (base model);
    the shortest matching prefix that ends at a module boundary wins.
    """
    candidates = sorted(
        (n[: -len(suffix)] for n in names if n.endswith(suffix) and (n == suffix or n[-len(suffix) - 1] == ".")),
        key=len,
    )
    if not candidates:
        raise UnsupportedArchitectureError(f"{context}: no tensor named like '*{suffix}'; is this the right family?")
    return candidates[0]


def config_int(config: dict[str, Any], *keys: str, required: bool = True) -> int | None:
    """The first positive integer among ``keys`` in ``config``; raises `CorruptFileError` if required and absent."""
    for key in keys:
        value = config.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise CorruptFileError(f"config.json: {key} = {value!r} is not a positive integer")
            return value
    if required:
        raise CorruptFileError(f"config.json: missing {' or '.join(keys)}")
    return None


def head_geometry(
    config: dict[str, Any],
    hidden_keys: tuple[str, ...] = ("hidden_size",),
    heads_keys: tuple[str, ...] = ("num_attention_heads",),
    grouped: bool = False,
) -> tuple[int, int, int, int]:
    """``(d_model, H, H_kv, d_head)`` from config.json, checked so a config that lies fails before any read.

    ``grouped`` families (GQA) may set ``num_key_value_heads`` and an explicit ``head_dim``; otherwise
    ``H_kv = H`` and ``d_head = d_model / H``, which must divide.

    Raises:
        CorruptFileError: a missing size, heads that do not divide the width, or K/V groups that do not divide H.
    """
    d = config_int(config, *hidden_keys)
    H = config_int(config, *heads_keys)
    assert d is not None and H is not None
    H_kv = (config_int(config, "num_key_value_heads", required=False) if grouped else None) or H
    head_dim = config_int(config, "head_dim", required=False) if grouped else None
    if head_dim is None:
        if d % H:
            raise CorruptFileError(f"config.json: hidden_size {d} is not divisible by {H} heads")
        head_dim = d // H
    if H % H_kv:
        raise CorruptFileError(f"config.json: {H} heads are not divisible into {H_kv} K/V groups")
    return d, H, H_kv, head_dim


def count_layers(names: set[str] | list[str], pattern: str) -> int:
    """Number of layers whose index ``pattern`` (a regex with one group) captures; they must be exactly 0..L−1.

    Raises:
        CorruptFileError: for gaps, so a header naming ``layers.3000000`` cannot make a scan plan millions of layers.
    """
    regex = re.compile(pattern)
    indices = sorted({int(m.group(1)) for n in names if (m := regex.fullmatch(n))})
    if indices and indices[-1] != len(indices) - 1:
        raise CorruptFileError(f"layer indices are not 0..{len(indices) - 1}: found {len(indices)} up to {indices[-1]}")
    return len(indices)


def expect_shape(tensor: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
    """Check a tensor against the shape config.json implies (a config that lies is a corrupt file)."""
    if tuple(tensor.shape) != shape:
        raise CorruptFileError(f"{name}: shape {tuple(tensor.shape)} but config.json implies {shape}")
    return tensor


def split_heads_rows(W: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """(heads·d_head, d_model) read matrix → (heads, d_head, d_model)."""
    return W.reshape(heads, head_dim, W.shape[-1])


def split_heads_cols(W: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """(d_model, heads·d_head) write matrix → (heads, d_model, d_head)."""
    return W.reshape(W.shape[0], heads, head_dim).permute(1, 0, 2)


class ArchitectureAdapter(ABC):
    """Maps one family's tensor names and layouts to `AttentionWeights` and `MlpWeights`, layer by layer."""

    model_types: ClassVar[tuple[str, ...]]
    """The config.json ``model_type`` values this adapter handles."""

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        self.config = config
        self.names = names
        self.shapes = shapes

    def _name(self, layer: int, leaf: str) -> str:
        """Full tensor name of ``leaf`` in layer ``layer`` (families define their own layout)."""
        raise NotImplementedError(f"{type(self).__name__} does not name per-layer tensors")

    def _tensor(self, tensors: dict[str, torch.Tensor], layer: int, leaf: str, shape: tuple[int, ...]) -> torch.Tensor:
        """Layer ``layer``'s ``leaf`` tensor, checked against the shape config.json implies."""
        name = self._name(layer, leaf)
        return expect_shape(tensors[name], shape, name)

    @property
    @abstractmethod
    def shape(self) -> ModelShape:
        """Sizes of the model."""

    @abstractmethod
    def layer_tensors(self, layer: int) -> list[str]:
        """Names of every tensor layer ``layer`` needs (nothing else is fetched)."""

    @abstractmethod
    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights | None:
        """The layer's attention heads, or ``None`` for a layer without attention."""

    @abstractmethod
    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """The layer's MLP junction(s): one, one per expert, or none."""
