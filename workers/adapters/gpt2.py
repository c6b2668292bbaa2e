"""GPT-2: Conv1D weights stored ``[in, out]``, a fused ``c_attn`` and pre-LayerNorm blocks."""

from __future__ import annotations

import re
from typing import Any

import torch

from workers.adapters.base import (
    ArchitectureAdapter,
    AttentionWeights,
    MlpWeights,
    ModelShape,
    TensorShapes,
    config_int,
    count_layers,
    detect_prefix,
    expect_shape,
    head_geometry,
    split_heads_cols,
    split_heads_rows,
)


class Gpt2Adapter(ArchitectureAdapter):
    """``{prefix}h.{i}.attn.{c_attn,c_proj}``, ``mlp.{c_fc,c_proj}``, ``ln_1`` and ``ln_2``.

    Conv1D computes ``y = x W + b`` with W stored ``[in, out]``, so every matrix is transposed into the
    ``y = W x`` convention. ``c_attn`` holds q, k and v as three blocks of d_model output columns each.
    """

    model_types = ("gpt2",)

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "h.0.attn.c_attn.weight", "gpt2 checkpoint")
        self.d, self.H, _, self.dh = head_geometry(
            config,
            (
                "n_embd",
                "hidden_size",
            ),
            (
                "n_head",
                "num_attention_heads",
            ),
        )
        self.d_ff = config_int(config, "n_inner", required=False) or 4 * self.d
        self.num_layers = count_layers(names, rf"{re.escape(self.prefix)}h\.(\d+)\.attn\.c_attn\.weight")

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape("gpt2", self.num_layers, self.H, self.H, self.dh, self.d, self.d_ff)

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}h.{layer}.{leaf}"

    def _linear(self, tensors: dict[str, torch.Tensor], layer: int, leaf: str, n_in: int, n_out: int) -> torch.Tensor:
        """A Conv1D weight ``[in, out]`` as a ``(out, in)`` matrix."""
        name = self._name(layer, leaf)
        return expect_shape(tensors[name], (n_in, n_out), name).T

    def layer_tensors(self, layer: int) -> list[str]:
        """``c_attn``, both ``c_proj``, ``c_fc`` and the two LayerNorm gains."""
        leaves = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
        leaves += ["ln_1.weight", "ln_2.weight"]
        return [self._name(layer, leaf) for leaf in leaves]

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """Multi-head attention; q, k and v are the three d_model-row blocks of ``c_attn``ᵀ."""
        H, dh, d = self.H, self.dh, self.d
        W_qkv = self._linear(tensors, layer, "attn.c_attn.weight", d, 3 * d)
        q, k, v = (split_heads_rows(block, H, dh) for block in W_qkv.split(d, dim=0))
        W_O = self._linear(tensors, layer, "attn.c_proj.weight", d, d)
        gain = expect_shape(tensors[self._name(layer, "ln_1.weight")], (d,), self._name(layer, "ln_1"))
        return AttentionWeights(q, k, v, split_heads_cols(W_O, H, dh), gain)

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One GELU MLP."""
        d, f = self.d, self.d_ff
        up = self._linear(tensors, layer, "mlp.c_fc.weight", d, f)
        down = self._linear(tensors, layer, "mlp.c_proj.weight", f, d)
        gain = expect_shape(tensors[self._name(layer, "ln_2.weight")], (d,), self._name(layer, "ln_2"))
        return [MlpWeights(up=up, down=down, read_gain=gain)]
