"""Mixtral's experts, in both saved layouts, against the sparse MoE block's own forward computation."""

from __future__ import annotations

import pytest
import torch

from tests.workers.adapters._models import FAMILIES, Built, build, capture, load_checkpoint, run_forward
from workers.adapters import adapter_for
from workers.adapters.mixtral import MixtralAdapter
from workers.errors import UnsupportedArchitectureError

LAYOUTS = {"per_expert": {}, "fused": {"save_original_format": False}}
"""save_pretrained options: transformers 5 writes the Hub's per-expert names by default, its fused layout on request."""


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def layout(request: pytest.FixtureRequest) -> str:
    """The saved expert layout."""
    return request.param


@pytest.fixture(scope="module")
def built(layout: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A tiny Mixtral (3 experts, top-2) saved in one layout."""
    return build(FAMILIES["mixtral"], tmp_path_factory.mktemp(layout), **LAYOUTS[layout])


def test_saved_layout_is_detected(built: Built, layout: str) -> None:
    """Default saves hold ``block_sparse_moe.experts.{e}.w{1,2,3}``; fused saves hold 3-D ``mlp.experts.*``."""
    fused = layout == "fused"
    for directory, prefix in ((built.task_dir, "model."), (built.base_dir, "")):
        config, tensors = load_checkpoint(directory)
        adapter = adapter_for(config, set(tensors))
        assert isinstance(adapter, MixtralAdapter) and adapter.fused == fused
        if fused:
            assert tensors[f"{prefix}layers.0.mlp.experts.gate_up_proj"].shape == (3, 96, 32)
        else:
            assert tensors[f"{prefix}layers.0.block_sparse_moe.experts.2.w1.weight"].shape == (48, 32)
        plan = adapter.layer_tensors(1)
        assert set(plan) <= set(tensors)
        assert not [n for n in plan if ".gate.weight" in n], "the router is never read"


def test_experts_match_moe_forward(built: Built) -> None:
    """The experts module's output is Σ_k w_k · down_e (act(gate_e x) * up_e x) over each token's top-k experts."""
    experts_modules = {i: block.mlp.experts for i, block in enumerate(built.blocks)}
    with capture(experts_modules) as calls:
        run_forward(built.model, built.model.config.vocab_size)
    for directory in (built.task_dir, built.base_dir):
        config, tensors = load_checkpoint(directory)
        adapter = adapter_for(config, set(tensors))
        for i, call in calls.items():
            mlps = adapter.mlps(i, {n: tensors[n] for n in adapter.layer_tensors(i)})
            assert [m.expert for m in mlps] == [0, 1, 2]
            x, top_k_index, top_k_weights = call.args
            act = experts_modules[i].act_fn
            expected = torch.zeros_like(call.output)
            for slot in range(top_k_index.shape[1]):
                for e, mlp in enumerate(mlps):
                    chosen = top_k_index[:, slot] == e
                    out = (act(x @ mlp.gate.T) * (x @ mlp.up.T)) @ mlp.down.T
                    expected += torch.where(chosen[:, None], top_k_weights[:, slot, None] * out, 0)
            assert set(top_k_index.unique().tolist()) == {0, 1, 2}, "every expert is exercised"
            torch.testing.assert_close(call.output, expected, atol=1e-5, rtol=0)


def test_experts_share_the_post_attention_gain(built: Built) -> None:
    """Every expert reads through the block's post-attention RMSNorm."""
    config, tensors = load_checkpoint(built.task_dir)
    adapter = adapter_for(config, set(tensors))
    for i, block in enumerate(built.blocks):
        for mlp in adapter.mlps(i, {n: tensors[n] for n in adapter.layer_tensors(i)}):
            torch.testing.assert_close(mlp.read_gain, block.post_attention_layernorm.weight.detach(), atol=0, rtol=0)


def test_checkpoint_without_experts_is_unsupported(built: Built) -> None:
    """A mixtral config over tensors with neither expert layout fails with a clear error."""
    config, tensors = load_checkpoint(built.task_dir)
    names = {n for n in tensors if "experts" not in n}
    with pytest.raises(UnsupportedArchitectureError, match="experts"):
        adapter_for(config, names)
