"""Post-LayerNorm encoders: bert and roberta."""

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


class BertAdapter(ArchitectureAdapter):
    """``{prefix}encoder.layer.{i}.attention.self.{query,key,value}``, ``attention.output.dense``,
    ``intermediate.dense`` and ``output.dense``.

    Post-LN: the attention of layer i reads through layer i−1's ``output.LayerNorm`` (layer 0 reads
    the embeddings' norm, which is not fetched, so it has no read gain); the MLP reads through
    ``attention.output.LayerNorm``. Checkpoints converted from the original TF release (bert-base-uncased's
    own safetensors among them) name the LayerNorm gain ``gamma`` (and its bias ``beta``) instead of ``weight``.
    """

    model_types = ("bert", "roberta")

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.prefix = detect_prefix(names, "encoder.layer.0.attention.self.query.weight", "bert-style checkpoint")
        self.d, self.H, _, self.dh = head_geometry(config)
        self.d_ff = config_int(config, "intermediate_size")
        pattern = rf"{re.escape(self.prefix)}encoder\.layer\.(\d+)\.attention\.self\.query\.weight"
        self.num_layers = count_layers(names, pattern)
        gamma, weight = (self._name(0, f"attention.output.LayerNorm.{leaf}") for leaf in ("gamma", "weight"))
        self.gain_leaf = "gamma" if gamma in names and weight not in names else "weight"

    @property
    def shape(self) -> ModelShape:
        """Sizes of the model."""
        return ModelShape(
            str(self.config.get("model_type")), self.num_layers, self.H, self.H, self.dh, self.d, self.d_ff
        )

    def _name(self, layer: int, leaf: str) -> str:
        return f"{self.prefix}encoder.layer.{layer}.{leaf}"

    def _gain(self, tensors: dict[str, torch.Tensor], layer: int, leaf: str) -> torch.Tensor:
        name = self._name(layer, leaf)
        return expect_shape(tensors[name], (self.d,), name)

    def layer_tensors(self, layer: int) -> list[str]:
        """Q/K/V/O, the two MLP matrices, the attention-output norm and the previous layer's output norm."""
        leaves = [f"attention.self.{x}.weight" for x in ("query", "key", "value")]
        leaves += ["attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight"]
        leaves += [f"attention.output.LayerNorm.{self.gain_leaf}"]
        names = [self._name(layer, leaf) for leaf in leaves]
        if layer > 0:
            names.append(self._name(layer - 1, f"output.LayerNorm.{self.gain_leaf}"))
        return names

    def attention(self, layer: int, tensors: dict[str, torch.Tensor]) -> AttentionWeights:
        """Multi-head attention with H heads of d/H."""
        H, dh, d = self.H, self.dh, self.d
        reads = {
            x: split_heads_rows(
                expect_shape(tensors[self._name(layer, f"attention.self.{x}.weight")], (d, d), self._name(layer, x)),
                H,
                dh,
            )
            for x in ("query", "key", "value")
        }
        W_O = expect_shape(tensors[self._name(layer, "attention.output.dense.weight")], (d, d), self._name(layer, "o"))
        gain = self._gain(tensors, layer - 1, f"output.LayerNorm.{self.gain_leaf}") if layer > 0 else None
        return AttentionWeights(reads["query"], reads["key"], reads["value"], split_heads_cols(W_O, H, dh), gain)

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One GELU MLP."""
        d, f = self.d, self.d_ff
        up = expect_shape(tensors[self._name(layer, "intermediate.dense.weight")], (f, d), self._name(layer, "up"))
        down = expect_shape(tensors[self._name(layer, "output.dense.weight")], (d, f), self._name(layer, "down"))
        gain = self._gain(tensors, layer, f"attention.output.LayerNorm.{self.gain_leaf}")
        return [MlpWeights(up=up, down=down, read_gain=gain)]
