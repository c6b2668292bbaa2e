"""GPT-NeoX and Pythia: a fused ``query_key_value`` interleaved per head, pre-LayerNorm blocks."""

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
    head_geometry,
    split_heads_cols,
)


class NeoxAdapter(ArchitectureAdapter):
    """``{prefix}layers.{i}.attention.{query_key_value,dense}`` and ``mlp.{dense_h_to_4h,dense_4h_to_h}``.

    The rows of ``query_key_value`` are grouped by head, not by projection: viewed as
    ``(H, 3·d_head, d_model)``, head h's rows are its q, then its k, then its v.
    """

    model_types = ("gpt_neox",)

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "layers.0.attention.query_key_value.weight", "gpt_neox checkpoint")
        self.d, self.H, _, self.dh = head_geometry(config)
        self.d_ff = config_int(config, "intermediate_size")
        pattern = rf"{re.escape(self.prefix)}layers\.(\d+)\.attention\.query_key_value\.weight"
        self.num_layers = count_layers(names, pattern)

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape("gpt_neox", self.num_layers, self.H, self.H, self.dh, self.d, self.d_ff)

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}layers.{layer}.{leaf}"

    def layer_tensors(self, layer: int) -> list[str]:
        """The fused QKV, the attention output, the two MLP matrices and the two LayerNorm gains."""
        leaves = ["attention.query_key_value.weight", "attention.dense.weight"]
        leaves += ["mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight"]
        leaves += ["input_layernorm.weight", "post_attention_layernorm.weight"]
        return [self._name(layer, leaf) for leaf in leaves]

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """Multi-head attention, de-interleaved from the per-head QKV blocks."""
        H, dh, d = self.H, self.dh, self.d
        W_qkv = self._tensor(tensors, layer, "attention.query_key_value.weight", (3 * d, d)).reshape(H, 3 * dh, d)
        q, k, v = W_qkv.split(dh, dim=1)
        W_O = self._tensor(tensors, layer, "attention.dense.weight", (d, d))
        gain = self._tensor(tensors, layer, "input_layernorm.weight", (d,))
        return AttentionWeights(q, k, v, split_heads_cols(W_O, H, dh), gain)

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One GELU MLP."""
        d, f = self.d, self.d_ff
        up = self._tensor(tensors, layer, "mlp.dense_h_to_4h.weight", (f, d))
        down = self._tensor(tensors, layer, "mlp.dense_4h_to_h.weight", (d, f))
        gain = self._tensor(tensors, layer, "post_attention_layernorm.weight", (d,))
        return [MlpWeights(up=up, down=down, read_gain=gain)]
