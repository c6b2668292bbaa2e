"""Llama-style decoders: llama, mistral, qwen2, qwen3, gemma (GQA, gated MLP, RMSNorm)."""

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


class LlamaAdapter(ArchitectureAdapter):
    """``{prefix}layers.{i}.self_attn.{q,k,v,o}_proj`` and ``mlp.{gate,up,down}_proj``.

    Gemma's RMSNorm scales by ``1 + w``, so its stored gain is shifted by one. The rotary
    permutation of q/k rows in HF checkpoints stays within a head, so head subspaces are unaffected.
    """

    model_types = ("llama", "mistral", "qwen2", "qwen3", "gemma")

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "layers.0.self_attn.q_proj.weight", "llama-style checkpoint")
        self.d, self.H, self.H_kv, self.dh = head_geometry(config, grouped=True)
        self.d_ff = config_int(config, "intermediate_size")
        self.gain_offset = 1.0 if config.get("model_type") == "gemma" else 0.0
        self.num_layers = count_layers(names, rf"{re.escape(self.prefix)}layers\.(\d+)\.self_attn\.q_proj\.weight")

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape(
            str(self.config.get("model_type")), self.num_layers, self.H, self.H_kv, self.dh, self.d, self.d_ff
        )

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}layers.{layer}.{leaf}"

    def _gain(self, tensors: dict[str, torch.Tensor], layer: int, leaf: str) -> torch.Tensor:
        """A norm's stored gain, shape-checked, as the factor it scales by (gemma stores it minus one)."""
        name = self._name(layer, leaf)
        return expect_shape(tensors[name], (self.d,), name) + self.gain_offset

    def layer_tensors(self, layer: int) -> list[str]:
        """Attention and MLP weights plus the two norm gains."""
        leaves = [f"self_attn.{x}_proj.weight" for x in "qkvo"]
        leaves += [f"mlp.{x}_proj.weight" for x in ("gate", "up", "down")]
        leaves += ["input_layernorm.weight", "post_attention_layernorm.weight"]
        return [self._name(layer, leaf) for leaf in leaves]

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """GQA heads: q/o with H heads, k/v with H_kv."""
        t = {n: tensors[self._name(layer, f"self_attn.{n}_proj.weight")] for n in "qkvo"}
        H, H_kv, dh, d = self.H, self.H_kv, self.dh, self.d
        return AttentionWeights(
            q=split_heads_rows(expect_shape(t["q"], (H * dh, d), self._name(layer, "q_proj")), H, dh),
            k=split_heads_rows(expect_shape(t["k"], (H_kv * dh, d), self._name(layer, "k_proj")), H_kv, dh),
            v=split_heads_rows(expect_shape(t["v"], (H_kv * dh, d), self._name(layer, "v_proj")), H_kv, dh),
            o=split_heads_cols(expect_shape(t["o"], (d, H * dh), self._name(layer, "o_proj")), H, dh),
            read_gain=self._gain(tensors, layer, "input_layernorm.weight"),
        )

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One gated MLP."""
        d, f = self.d, self.d_ff
        return [
            MlpWeights(
                up=expect_shape(tensors[self._name(layer, "mlp.up_proj.weight")], (f, d), self._name(layer, "up")),
                gate=expect_shape(
                    tensors[self._name(layer, "mlp.gate_proj.weight")], (f, d), self._name(layer, "gate")
                ),
                down=expect_shape(
                    tensors[self._name(layer, "mlp.down_proj.weight")], (d, f), self._name(layer, "down")
                ),
                read_gain=self._gain(tensors, layer, "post_attention_layernorm.weight"),
            )
        ]
