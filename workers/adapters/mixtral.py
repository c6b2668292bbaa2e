"""Mixtral: llama attention and a sparse mixture of gated experts, each expert its own MLP junction."""

from __future__ import annotations

from typing import Any

import torch

from workers.adapters.base import MlpWeights, TensorShapes, config_int, expect_shape
from workers.adapters.llama import LlamaAdapter
from workers.errors import UnsupportedArchitectureError


class MixtralAdapter(LlamaAdapter):
    """Llama attention; experts in either of two layouts, found from layer 0's tensor names.

    - *per expert* (Hub checkpoints, and what transformers 5 ``save_pretrained`` writes by default):
      ``block_sparse_moe.experts.{e}.w1`` (gate), ``w3`` (up) and ``w2`` (down), each ``(out, in)``;
    - *fused* (transformers 5's in-memory layout, written with ``save_original_format=False``):
      ``mlp.experts.gate_up_proj`` (E, 2·d_ff, d_model), gate rows first, and ``mlp.experts.down_proj``
      (E, d_model, d_ff).

    The router (``block_sparse_moe.gate`` / ``mlp.gate``) is never read.
    """

    model_types = ("mixtral",)

    def __init__(self, config: dict[str, Any], names: set[str], *, shapes: TensorShapes | None = None) -> None:
        super().__init__(config, names, shapes=shapes)
        self.num_experts = config_int(config, "num_local_experts")
        if self._name(0, "block_sparse_moe.experts.0.w1.weight") in names:
            self.fused = False
        elif self._name(0, "mlp.experts.gate_up_proj") in names:
            self.fused = True
        else:
            raise UnsupportedArchitectureError(
                f"mixtral checkpoint: no experts under '{self._name(0, 'block_sparse_moe.experts.0.w1.weight')}'"
                f" or '{self._name(0, 'mlp.experts.gate_up_proj')}'"
            )

    def layer_tensors(self, layer: int) -> list[str]:
        """Attention, every expert's three matrices and the two norm gains (not the router)."""
        leaves = [f"self_attn.{x}_proj.weight" for x in "qkvo"]
        if self.fused:
            leaves += ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"]
        else:
            leaves += [f"block_sparse_moe.experts.{e}.w{i}.weight" for e in range(self.num_experts) for i in (1, 2, 3)]
        leaves += ["input_layernorm.weight", "post_attention_layernorm.weight"]
        return [self._name(layer, leaf) for leaf in leaves]

    def mlps(self, layer: int, tensors: dict[str, torch.Tensor]) -> list[MlpWeights]:
        """One gated MLP per expert, ``expert=e``; all share the post-attention norm's gain."""
        d, f, E = self.d, self.d_ff, self.num_experts
        gain = self._gain(tensors, layer, "post_attention_layernorm.weight")
        if self.fused:
            gate_up_name = self._name(layer, "mlp.experts.gate_up_proj")
            down_name = self._name(layer, "mlp.experts.down_proj")
            gate_up = expect_shape(tensors[gate_up_name], (E, 2 * f, d), gate_up_name)
            downs = expect_shape(tensors[down_name], (E, d, f), down_name)
            gates, ups = gate_up.split(f, dim=1)
            return [MlpWeights(up=ups[e], gate=gates[e], down=downs[e], expert=e, read_gain=gain) for e in range(E)]
        experts = []
        for e in range(E):
            w = {}
            for i, shape in ((1, (f, d)), (2, (d, f)), (3, (f, d))):
                name = self._name(layer, f"block_sparse_moe.experts.{e}.w{i}.weight")
                w[i] = expect_shape(tensors[name], shape, name)
            experts.append(MlpWeights(up=w[3], gate=w[1], down=w[2], expert=e, read_gain=gain))
        return experts
