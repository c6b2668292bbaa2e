"""DistilBERT: a post-LayerNorm encoder with its own tensor names."""

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
    split_heads_rows,
)


class DistilBertAdapter(ArchitectureAdapter):
    """``{prefix}transformer.layer.{i}.attention.{q_lin,k_lin,v_lin,out_lin}`` and ``ffn.{lin1,lin2}``.

    Post-LN, as in bert: the MLP reads through ``sa_layer_norm``; the attention of layer i reads through
    layer i−1's ``output_layer_norm`` (layer 0 reads the embeddings' norm, which is not fetched, so it
    has no read gain).
    """

    model_types = ("distilbert",)

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "transformer.layer.0.attention.q_lin.weight", "distilbert checkpoint")
        self.d, self.H, _, self.dh = head_geometry(
            config,
            (
                "dim",
                "hidden_size",
            ),
            (
                "n_heads",
                "num_attention_heads",
            ),
        )
        self.d_ff = config_int(config, "hidden_dim", "intermediate_size")
        pattern = rf"{re.escape(self.prefix)}transformer\.layer\.(\d+)\.attention\.q_lin\.weight"
        self.num_layers = count_layers(names, pattern)

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape("distilbert", self.num_layers, self.H, self.H, self.dh, self.d, self.d_ff)

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}transformer.layer.{layer}.{leaf}"

    def layer_tensors(self, layer: int) -> list[str]:
        """Q/K/V/O, the two FFN matrices, ``sa_layer_norm`` and the previous layer's ``output_layer_norm``."""
        leaves = [f"attention.{x}_lin.weight" for x in ("q", "k", "v", "out")]
        leaves += ["ffn.lin1.weight", "ffn.lin2.weight", "sa_layer_norm.weight"]
        names = [self._name(layer, leaf) for leaf in leaves]
        if layer > 0:
            names.append(self._name(layer - 1, "output_layer_norm.weight"))
        return names

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """Multi-head attention with H heads of d/H."""
        H, dh, d = self.H, self.dh, self.d
        q, k, v = (
            split_heads_rows(self._tensor(tensors, layer, f"attention.{x}_lin.weight", (d, d)), H, dh) for x in "qkv"
        )
        W_O = self._tensor(tensors, layer, "attention.out_lin.weight", (d, d))
        gain = self._tensor(tensors, layer - 1, "output_layer_norm.weight", (d,)) if layer > 0 else None
        return AttentionWeights(q, k, v, split_heads_cols(W_O, H, dh), gain)

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One GELU MLP."""
        d, f = self.d, self.d_ff
        up = self._tensor(tensors, layer, "ffn.lin1.weight", (f, d))
        down = self._tensor(tensors, layer, "ffn.lin2.weight", (d, f))
        gain = self._tensor(tensors, layer, "sa_layer_norm.weight", (d,))
        return [MlpWeights(up=up, down=down, read_gain=gain)]
