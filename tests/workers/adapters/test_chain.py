"""The generic chain adapter on a plain MLP and a small CNN saved with safetensors, against their modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tests.workers.adapters._models import capture
from workers.adapters import adapter_for
from workers.adapters.chain import ChainAdapter, natural_key
from workers.errors import CorruptFileError

ATOL = 1e-5


def save_chain(model: nn.Module, directory: Path, model_type: str) -> tuple[ChainAdapter, dict[str, torch.Tensor]]:
    """Save ``model``'s state dict and a config.json, and open it as the pipeline would (names and shapes)."""
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, directory / "model.safetensors")
    (directory / "config.json").write_text(json.dumps({"model_type": model_type}))
    tensors = load_file(directory / "model.safetensors")
    config = json.loads((directory / "config.json").read_text())
    adapter = adapter_for(config, set(tensors), shapes={n: tuple(t.shape) for n, t in tensors.items()})
    assert isinstance(adapter, ChainAdapter)
    return adapter, tensors


def junction(adapter: ChainAdapter, tensors: dict[str, torch.Tensor], index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(producer, consumer) of junction ``index``, from only the tensors the adapter asks for."""
    (mlp,) = adapter.mlps(index, {n: tensors[n] for n in adapter.layer_tensors(index)})
    assert mlp.gate is None and mlp.read_gain is None
    return mlp.up, mlp.down


def deep_mlp() -> nn.Sequential:
    """Six linear layers, so module indices run past 9 and only a natural sort orders them."""
    torch.manual_seed(0)
    widths = [10, 16, 24, 20, 12, 8, 5]
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).eval()


def small_cnn() -> nn.Sequential:
    """conv → ReLU → BatchNorm → conv → ReLU → flatten → linear, on 3×8×8 images."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 16, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(256, 10),
    )
    return model.eval()


def test_natural_key_orders_numbers_numerically() -> None:
    """``2.weight`` sorts before ``10.weight``."""
    assert sorted(["10.weight", "2.weight", "layer.1.w", "layer.0.w"], key=natural_key) == [
        "2.weight",
        "10.weight",
        "layer.0.w",
        "layer.1.w",
    ]


def test_mlp_junctions_match_forward(tmp_path: Path) -> None:
    """Junction i's output at linear i+1 is C @ relu(P x + b_i) + b_{i+1}, with x linear i's input."""
    model = deep_mlp()
    adapter, tensors = save_chain(model, tmp_path, "mlp")
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert adapter.num_layers == adapter.shape.num_layers == len(linears) - 1
    assert adapter.weights == [f"{i}.weight" for i in range(0, 11, 2)]
    with capture(dict(enumerate(linears))) as calls, torch.no_grad():
        model(torch.randn(9, 10))
    for i in range(adapter.num_layers):
        assert adapter.attention(i, {}) is None
        P, C = junction(adapter, tensors, i)
        expected = torch.relu(calls[i].x @ P.T + linears[i].bias) @ C.T + linears[i + 1].bias
        torch.testing.assert_close(calls[i + 1].output, expected.detach(), atol=ATOL, rtol=0)


def test_cnn_junctions_match_conv_and_linear(tmp_path: Path) -> None:
    """Conv producers are (out, in·kh·kw); conv consumers read each pixel once per kernel offset; a linear after a
    flatten reads each channel once per position. Each is checked by running the real module on a single pixel."""
    model = small_cnn()
    conv1, conv2, linear = model[0], model[3], model[6]
    adapter, tensors = save_chain(model, tmp_path, "cnn")
    assert adapter.weights == ["0.weight", "3.weight", "6.weight"], "1-D BatchNorm tensors are skipped"
    torch.manual_seed(1)
    with torch.no_grad():
        P1, C1 = junction(adapter, tensors, 0)
        patch = torch.randn(3, 3, 3)
        torch.testing.assert_close(conv1(patch[None]).flatten(), P1 @ patch.flatten() + conv1.bias, atol=ATOL, rtol=0)
        assert C1.shape == (16 * 3 * 3, 8)
        pixel = torch.randn(8)
        readouts = (C1 @ pixel).reshape(16, 3, 3)
        for a in range(3):
            for b in range(3):
                image = torch.zeros(1, 8, 3, 3)
                image[0, :, a, b] = pixel
                torch.testing.assert_close(conv2(image).flatten() - conv2.bias, readouts[:, a, b], atol=ATOL, rtol=0)
        P2, C2 = junction(adapter, tensors, 1)
        assert P2.shape == (16, 8 * 3 * 3) and C2.shape == (10 * 16, 16)
        channels = torch.randn(16)
        readouts = (C2 @ channels).reshape(10, 16)
        for position in range(16):
            feature_map = torch.zeros(1, 16, 4, 4)
            feature_map[0, :, position // 4, position % 4] = channels
            got = linear(feature_map.flatten(1)).flatten() - linear.bias
            torch.testing.assert_close(got, readouts[:, position], atol=ATOL, rtol=0)


def test_shapes_that_do_not_chain_are_corrupt(tmp_path: Path) -> None:
    """A consumer whose input width is not the producer's output width raises CorruptFileError."""
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(12, 5))
    adapter, tensors = save_chain(model, tmp_path, "chain")
    with pytest.raises(CorruptFileError, match="2.weight"):
        adapter.mlps(0, {n: tensors[n] for n in adapter.layer_tensors(0)})


def test_without_shapes_a_one_dimensional_weight_is_reported(tmp_path: Path) -> None:
    """Without shapes, names decide; a 1-D ``*.weight`` (a norm gain) is caught when fetched, not analysed."""
    adapter, tensors = save_chain(small_cnn(), tmp_path, "cnn")
    by_name = adapter_for({"model_type": "cnn"}, set(tensors))
    assert by_name.weights == ["0.weight", "2.weight", "3.weight", "6.weight"]
    with pytest.raises(CorruptFileError, match="not a weight matrix"):
        by_name.mlps(0, {n: tensors[n] for n in by_name.layer_tensors(0)})
