"""Phi-3: a fused ``qkv_proj`` (GQA) and a fused ``gate_up_proj``, RMSNorm pre-norm blocks."""

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


class Phi3Adapter(ArchitectureAdapter):
    """``{prefix}layers.{i}.self_attn.{qkv_proj,o_proj}`` and ``mlp.{gate_up_proj,down_proj}``.

    ``qkv_proj`` stacks the rows of q (H heads), then k (H_kv heads), then v (H_kv heads).
    ``gate_up_proj`` stacks gate's d_ff rows, then up's: Phi3MLP does ``gate, up = y.chunk(2, dim=-1)``.
    """

    model_types = ("phi3",)

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "layers.0.self_attn.qkv_proj.weight", "phi3 checkpoint")
        self.d, self.H, self.H_kv, self.dh = head_geometry(config, grouped=True)
        self.d_ff = config_int(config, "intermediate_size")
        pattern = rf"{re.escape(self.prefix)}layers\.(\d+)\.self_attn\.qkv_proj\.weight"
        self.num_layers = count_layers(names, pattern)

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape("phi3", self.num_layers, self.H, self.H_kv, self.dh, self.d, self.d_ff)

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}layers.{layer}.{leaf}"

    def layer_tensors(self, layer: int) -> list[str]:
        """The fused QKV, ``o_proj``, the fused gate/up, ``down_proj`` and the two RMSNorm gains."""
        leaves = ["self_attn.qkv_proj.weight", "self_attn.o_proj.weight"]
        leaves += ["mlp.gate_up_proj.weight", "mlp.down_proj.weight"]
        leaves += ["input_layernorm.weight", "post_attention_layernorm.weight"]
        return [self._name(layer, leaf) for leaf in leaves]

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """GQA heads: q/o with H heads, k/v with H_kv, split out of ``qkv_proj``."""
        H, H_kv, dh, d = self.H, self.H_kv, self.dh, self.d
        W_qkv = self._tensor(tensors, layer, "self_attn.qkv_proj.weight", ((H + 2 * H_kv) * dh, d))
        W_q, W_k, W_v = W_qkv.split([H * dh, H_kv * dh, H_kv * dh], dim=0)
        W_O = self._tensor(tensors, layer, "self_attn.o_proj.weight", (d, H * dh))
        return AttentionWeights(
            q=split_heads_rows(W_q, H, dh),
            k=split_heads_rows(W_k, H_kv, dh),
            v=split_heads_rows(W_v, H_kv, dh),
            o=split_heads_cols(W_O, H, dh),
            read_gain=self._tensor(tensors, layer, "input_layernorm.weight", (d,)),
        )

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One gated MLP, split out of ``gate_up_proj``."""
        d, f = self.d, self.d_ff
        gate, up = self._tensor(tensors, layer, "mlp.gate_up_proj.weight", (2 * f, d)).split(f, dim=0)
        down = self._tensor(tensors, layer, "mlp.down_proj.weight", (d, f))
        gain = self._tensor(tensors, layer, "post_attention_layernorm.weight", (d,))
        return [MlpWeights(up=up, gate=gate, down=down, read_gain=gain)]
