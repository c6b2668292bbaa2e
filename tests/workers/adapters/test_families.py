"""Every transformer family's adapter against the model's own forward computation, for task and base checkpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from safetensors.torch import save_file

from tests.workers.adapters._models import FAMILIES, Built, Call, capture, load_checkpoint, run_forward
from workers.adapters import ArchitectureAdapter, adapter_for

ATOL = 1e-5


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def built(request: pytest.FixtureRequest, built_family: Callable[[str], Built]) -> Built:
    """A tiny model of each family, saved as a task and a base checkpoint."""
    return built_family(request.param)


DENSE_MLP_FAMILIES = sorted(name for name, family in FAMILIES.items() if family.mlp is not None)
"""Families with one dense MLP per block (mixtral's experts are checked in test_mixtral.py)."""


@pytest.fixture(scope="module")
def calls(built: Built) -> dict[Any, Call]:
    """Inputs and outputs of every probed module in one forward pass."""
    return record_calls(built)


def record_calls(built: Built) -> dict[Any, Call]:
    """Run the model once and capture the input and output of every probed module."""
    modules = {}
    for i, block in enumerate(built.blocks):
        probe = built.family.attention(block, built.model.config)
        modules.update({(i, kind): module for kind, (module, _) in probe.reads.items()})
        modules[(i, "o")] = probe.write
        if built.family.mlp is not None:
            mlp = built.family.mlp(block)
            modules[(i, "mlp_in")], modules[(i, "mlp_out")] = mlp.entry, mlp.exit
    with capture(modules) as recorded:
        run_forward(built.model, built.model.config.vocab_size)
    assert recorded.keys() == modules.keys()
    return recorded


def open_checkpoint(directory: Path) -> tuple[ArchitectureAdapter, dict[str, torch.Tensor]]:
    """The adapter for a saved checkpoint, and its tensors."""
    config, tensors = load_checkpoint(directory)
    return adapter_for(config, set(tensors)), tensors


def layer(adapter: ArchitectureAdapter, tensors: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    """Only the tensors the adapter asks for, as the pipeline fetches them."""
    return {name: tensors[name] for name in adapter.layer_tensors(index)}


def checkpoints(built: Built) -> list[tuple[Path, str]]:
    """(directory, expected prefix) for the task and the base checkpoint."""
    return list(zip((built.task_dir, built.base_dir), built.family.prefixes, strict=True))


def test_prefix_shape_and_fetch_plan(built: Built) -> None:
    """The prefix is detected, the sizes match config, and only weight matrices and gains are fetched."""
    config = built.model.config
    for directory, prefix in checkpoints(built):
        adapter, tensors = open_checkpoint(directory)
        assert adapter.prefix == prefix
        shape = adapter.shape
        assert shape.architecture == built.family.model_type
        assert shape.num_layers == adapter.num_layers == config.num_hidden_layers
        assert shape.hidden_size == config.hidden_size
        assert shape.num_heads == config.num_attention_heads
        for index in range(shape.num_layers):
            plan = adapter.layer_tensors(index)
            assert set(plan) <= set(tensors)
            assert not [n for n in plan if n.endswith(".bias") or "embed" in n or "wte" in n or "wpe" in n]
            assert not [n for n in plan if n.endswith(".gate.weight")], "the router is never read"


def test_attention_heads_match_forward(built: Built, calls: dict[Any, Call]) -> None:
    """Each head's q/k/v output is x @ W_hᵀ + b_h, and the output projection is Σ_h z_h @ o[h]ᵀ + b."""
    for directory, _ in checkpoints(built):
        adapter, tensors = open_checkpoint(directory)
        for i, block in enumerate(built.blocks):
            heads = adapter.attention(i, layer(adapter, tensors, i))
            probe = built.family.attention(block, built.model.config)
            for kind, (module, slicer) in probe.reads.items():
                W = getattr(heads, kind)
                expected = torch.einsum("...m,hdm->...hd", calls[(i, kind)].x, W)
                if module.bias is not None:
                    expected = expected + slicer(module.bias)
                torch.testing.assert_close(slicer(calls[(i, kind)].output), expected, atol=ATOL, rtol=0)
            z, out = calls[(i, "o")].x, calls[(i, "o")].output
            H, _, d_head = heads.o.shape[0], heads.o.shape[1], heads.o.shape[2]
            expected = torch.einsum("...hd,hmd->...m", z.unflatten(-1, (H, d_head)), heads.o)
            if probe.write.bias is not None:
                expected = expected + probe.write.bias
            torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
            assert heads.q.shape[0] % heads.k.shape[0] == 0 and heads.k.shape == heads.v.shape


@pytest.mark.parametrize("name", DENSE_MLP_FAMILIES)
def test_mlp_matches_forward(name: str, built_family: Callable[[str], Built]) -> None:
    """The MLP's output is down @ act(up x + b) + b_down (gated: down @ (act(gate x) * up x))."""
    built = built_family(name)
    calls = record_calls(built)
    assert built.family.mlp is not None
    for directory, _ in checkpoints(built):
        adapter, tensors = open_checkpoint(directory)
        for i, block in enumerate(built.blocks):
            (mlp,) = adapter.mlps(i, layer(adapter, tensors, i))
            probe = built.family.mlp(block)
            x = calls[(i, "mlp_in")].x
            hidden = x @ mlp.up.T + (probe.up_bias if probe.up_bias is not None else 0)
            hidden = probe.act(x @ mlp.gate.T) * hidden if mlp.gate is not None else probe.act(hidden)
            expected = hidden @ mlp.down.T + (probe.down_bias if probe.down_bias is not None else 0)
            torch.testing.assert_close(calls[(i, "mlp_out")].output, expected, atol=ATOL, rtol=0)
            assert mlp.expert is None


def test_read_gains_are_the_norms_in_front(built: Built) -> None:
    """read_gain is the weight of the norm each sublayer reads through (gemma: 1 + weight)."""
    for directory, _ in checkpoints(built):
        adapter, tensors = open_checkpoint(directory)
        for i in range(len(built.blocks)):
            expected_attn, expected_mlp = built.family.gains(built.blocks, i)
            tensors_i = layer(adapter, tensors, i)
            got = [adapter.attention(i, tensors_i).read_gain] + [m.read_gain for m in adapter.mlps(i, tensors_i)]
            for gain, expected in zip(got, [expected_attn] + [expected_mlp] * (len(got) - 1), strict=True):
                if expected is None:
                    assert gain is None
                else:
                    torch.testing.assert_close(gain, expected.detach(), atol=0, rtol=0)


@pytest.mark.parametrize("name", ["gemma", "llama"])
def test_rms_read_gain_is_the_factor_the_norm_applies(name: str, built_family: Callable[[str], Built]) -> None:
    """The RMSNorm's forward is x / rms(x) · read_gain (gemma stores the gain minus one)."""
    built = built_family(name)
    adapter, tensors = open_checkpoint(built.task_dir)
    gain = adapter.attention(0, layer(adapter, tensors, 0)).read_gain
    norm = built.blocks[0].input_layernorm
    eps = getattr(norm, "eps", None) or norm.variance_epsilon
    x = torch.randn(5, built.model.config.hidden_size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(norm(x), x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * gain)


def test_bert_legacy_gamma_names(built_family: Callable[[str], Built], tmp_path: Path) -> None:
    """TF-converted bert checkpoints name LayerNorm gains ``gamma``; the adapter reads them as ``weight``."""
    built = built_family("bert")
    config, tensors = load_checkpoint(built.task_dir)
    legacy = {
        n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("Norm.bias", "Norm.beta"): t
        for n, t in tensors.items()
    }
    save_file(legacy, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(config))
    adapter, renamed = open_checkpoint(tmp_path)
    assert any(n.endswith("LayerNorm.gamma") for n in adapter.layer_tensors(1))
    for i in range(len(built.blocks)):
        expected_attn, expected_mlp = built.family.gains(built.blocks, i)
        tensors_i = layer(adapter, renamed, i)
        attn_gain, (mlp,) = adapter.attention(i, tensors_i).read_gain, adapter.mlps(i, tensors_i)
        assert (attn_gain is None) == (expected_attn is None)
        if expected_attn is not None:
            torch.testing.assert_close(attn_gain, expected_attn.detach(), atol=0, rtol=0)
        torch.testing.assert_close(mlp.read_gain, expected_mlp.detach(), atol=0, rtol=0)


def test_opt_without_affine_norms_has_no_gain(tmp_path: Path) -> None:
    """With ``layer_norm_elementwise_affine`` off OPT stores no gains, so none is fetched or folded in."""
    torch.manual_seed(0)
    config = FAMILIES["opt"].config()
    config.layer_norm_elementwise_affine = False
    transformers.OPTForCausalLM(config).save_pretrained(tmp_path)
    adapter, tensors = open_checkpoint(tmp_path)
    for i in range(adapter.num_layers):
        assert not [n for n in adapter.layer_tensors(i) if "norm" in n]
        tensors_i = layer(adapter, tensors, i)
        assert adapter.attention(i, tensors_i).read_gain is None
        assert [m.read_gain for m in adapter.mlps(i, tensors_i)] == [None]
