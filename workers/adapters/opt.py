"""OPT: separate q/k/v/out projections, ReLU MLP, pre- or post-LayerNorm blocks."""

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


class OptAdapter(ArchitectureAdapter):
    """``{prefix}layers.{i}.self_attn.{q,k,v,out}_proj``, ``fc1``, ``fc2`` (prefix ``model.decoder.`` or ``decoder.``).

    With ``do_layer_norm_before`` (every OPT but opt-350m) attention reads through ``self_attn_layer_norm`` and
    the MLP through ``final_layer_norm``. Otherwise the block is post-LN, like bert: the MLP reads through
    ``self_attn_layer_norm`` and layer i's attention through layer i−1's ``final_layer_norm``. With
    ``layer_norm_elementwise_affine`` off the norms store no gain, and there is none to fold in.
    """

    model_types = ("opt",)

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "layers.0.self_attn.q_proj.weight", "opt checkpoint")
        self.d, self.H, _, self.dh = head_geometry(config)
        self.d_ff = config_int(config, "ffn_dim")
        self.pre_norm = bool(config.get("do_layer_norm_before", True))
        self.num_layers = count_layers(names, rf"{re.escape(self.prefix)}layers\.(\d+)\.self_attn\.q_proj\.weight")

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape("opt", self.num_layers, self.H, self.H, self.dh, self.d, self.d_ff)

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}layers.{layer}.{leaf}"

    def _gain_names(self, layer: int) -> tuple[str | None, str | None]:
        """The stored gains the attention and the MLP read through (``None`` where there is none)."""
        if self.pre_norm:
            attn = self._name(layer, "self_attn_layer_norm.weight")
            mlp = self._name(layer, "final_layer_norm.weight")
        else:
            attn = self._name(layer - 1, "final_layer_norm.weight") if layer > 0 else None
            mlp = self._name(layer, "self_attn_layer_norm.weight")
        return (attn if attn in self.names else None, mlp if mlp in self.names else None)

    def _gain(self, tensors: dict[str, torch.Tensor], name: str | None) -> torch.Tensor | None:
        return None if name is None else expect_shape(tensors[name], (self.d,), name)

    def layer_tensors(self, layer: int) -> list[str]:
        """Q/K/V/O, ``fc1``, ``fc2`` and the gains the two sublayers read through."""
        leaves = [f"self_attn.{x}_proj.weight" for x in ("q", "k", "v", "out")]
        leaves += ["fc1.weight", "fc2.weight"]
        return [self._name(layer, leaf) for leaf in leaves] + [n for n in self._gain_names(layer) if n is not None]

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """Multi-head attention with H heads of d/H."""
        H, dh, d = self.H, self.dh, self.d
        q, k, v = (
            split_heads_rows(self._tensor(tensors, layer, f"self_attn.{x}_proj.weight", (d, d)), H, dh) for x in "qkv"
        )
        W_O = self._tensor(tensors, layer, "self_attn.out_proj.weight", (d, d))
        return AttentionWeights(q, k, v, split_heads_cols(W_O, H, dh), self._gain(tensors, self._gain_names(layer)[0]))

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One MLP (ReLU in every released OPT)."""
        d, f = self.d, self.d_ff
        up = self._tensor(tensors, layer, "fc1.weight", (f, d))
        down = self._tensor(tensors, layer, "fc2.weight", (d, f))
        return [MlpWeights(up=up, down=down, read_gain=self._gain(tensors, self._gain_names(layer)[1]))]
