"""Adapter selection and the errors a lying or unknown config.json raises, for every family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from tests.workers.adapters._models import FAMILIES, Built, load_checkpoint
from workers.adapters import ADAPTERS, adapter_for, supported_model_types
from workers.errors import CorruptFileError, UnsupportedArchitectureError

HEADS_KEY = {"gpt2": "n_head", "distilbert": "n_heads"}
"""config.json's key for the number of attention heads, where it is not ``num_attention_heads``."""

FF_KEY = {"gpt2": "n_inner", "distilbert": "hidden_dim", "opt": "ffn_dim", "opt_post_ln": "ffn_dim"}
"""config.json's key for the MLP width, where it is not ``intermediate_size``."""

GQA = {"llama", "mistral", "qwen2", "qwen3", "gemma", "phi3", "mixtral"}
"""Families whose config may declare fewer K/V heads than query heads."""


def read_layer(adapter: Any, tensors: dict[str, torch.Tensor], index: int) -> None:
    """Map one layer's attention and MLPs (raising whatever the adapter raises)."""
    layer = {n: tensors[n] for n in adapter.layer_tensors(index)}
    adapter.attention(index, layer)
    adapter.mlps(index, layer)


def test_supported_types_follow_design_order() -> None:
    """Families are tried in DESIGN §3 order and every model_type is claimed once."""
    assert supported_model_types() == [
        "llama", "mistral", "qwen2", "qwen3", "gemma", "gpt2", "gpt_neox", "bert", "roberta", "distilbert",
        "phi3", "opt", "mixtral", "mlp", "cnn", "chain",
    ]  # fmt: skip
    assert (
        len(set(supported_model_types())) == len(supported_model_types()) == sum(len(a.model_types) for a in ADAPTERS)
    )


def test_unknown_model_type_lists_supported_families() -> None:
    """An unknown model_type raises UnsupportedArchitectureError naming every supported type."""
    with pytest.raises(UnsupportedArchitectureError) as raised:
        adapter_for({"model_type": "mamba"}, {"layers.0.mixer.in_proj.weight"})
    assert "'mamba'" in raised.value.message
    for model_type in supported_model_types():
        assert model_type in raised.value.message


def test_wrong_family_names_are_unsupported() -> None:
    """A known model_type over another family's tensor names fails clearly, naming the missing tensor."""
    with pytest.raises(UnsupportedArchitectureError, match="c_attn"):
        adapter_for({"model_type": "gpt2", "n_embd": 32, "n_head": 4}, {"layers.0.self_attn.q_proj.weight"})


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_heads_not_dividing_width_are_corrupt(name: str, built_family: Callable[[str], Built]) -> None:
    """A head count that does not divide the width (or K/V heads that do not divide the heads) is a corrupt config."""
    config, tensors = load_checkpoint(built_family(name).task_dir)
    config.pop("head_dim", None)
    with pytest.raises(CorruptFileError, match="divisible"):
        adapter_for({**config, HEADS_KEY.get(name, "num_attention_heads"): 5}, set(tensors))
    if name in GQA:
        with pytest.raises(CorruptFileError, match="K/V"):
            adapter_for({**config, "num_key_value_heads": 3}, set(tensors))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_config_that_lies_about_mlp_width_is_corrupt(name: str, built_family: Callable[[str], Built]) -> None:
    """When config.json's MLP width disagrees with the tensors, mapping the layer raises CorruptFileError."""
    config, tensors = load_checkpoint(built_family(name).task_dir)
    adapter = adapter_for({**config, FF_KEY.get(name, "intermediate_size"): 40}, set(tensors))
    with pytest.raises(CorruptFileError, match="config.json implies"):
        read_layer(adapter, tensors, 0)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_truncated_tensor_is_corrupt(name: str, built_family: Callable[[str], Built]) -> None:
    """Every fetched tensor is shape-checked: dropping one row of any of them raises CorruptFileError naming it."""
    config, tensors = load_checkpoint(built_family(name).task_dir)
    adapter = adapter_for(config, set(tensors))
    for victim in adapter.layer_tensors(1):
        broken = {**tensors, victim: tensors[victim][:-1]}
        with pytest.raises(CorruptFileError, match="shape"):
            read_layer(adapter, broken, 1)


def test_negative_or_missing_sizes_are_corrupt(built_family: Callable[[str], Built]) -> None:
    """A missing or non-positive size in config.json is a corrupt config."""
    config, tensors = load_checkpoint(built_family("llama").task_dir)
    with pytest.raises(CorruptFileError, match="hidden_size"):
        adapter_for({k: v for k, v in config.items() if k != "hidden_size"}, set(tensors))
    with pytest.raises(CorruptFileError, match="positive integer"):
        adapter_for({**config, "intermediate_size": -48}, set(tensors))


def test_layer_count_treats_the_prefix_literally() -> None:
    """The dot in prefix ``model.`` matches only a dot: a sibling ``model_layers.7`` tensor adds no layers."""
    config = {"model_type": "llama", "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 48}
    names = {"model.layers.0.self_attn.q_proj.weight", "model_layers.7.self_attn.q_proj.weight"}
    assert adapter_for(config, names).num_layers == 1
