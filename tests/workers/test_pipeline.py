"""The scan pipeline on real weights: streamed over HTTP and from a local directory, with progress and cancellation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.conftest import MINILM_REPO, minilm_dir
from tests.hub_server import HubServer
from workers.errors import CorruptFileError, NonFiniteWeightsError, ScanCanceledError
from workers.pipeline import Progress, scan
from workers.report import Report, ScanOptions
from workers.sources import HubSettings, HubSource, LocalSource


@pytest.fixture(scope="module")
def local_report() -> Report:
    """MiniLM scanned from the package's directory."""
    return scan(LocalSource(minilm_dir()))


def test_http_and_local_scans_give_identical_numbers(hub: HubServer, local_report: Report) -> None:
    """Streaming over HTTP range reads and reading the local file produce the same layers and summary."""
    progress: list[Progress] = []
    before = hub.log.total_body_bytes(MINILM_REPO)
    remote = scan(HubSource(MINILM_REPO, None, HubSettings(endpoint=hub.endpoint)), on_progress=progress.append)
    assert remote.model_dump()["layers"] == local_report.model_dump()["layers"]
    assert remote.summary == local_report.summary
    assert remote.model.commit_sha == hub.commit_sha(MINILM_REPO) and local_report.model.commit_sha is None
    # Progress: once per layer, monotone, ending at the totals.
    assert [p.layers_done for p in progress] == list(range(1, 7))
    assert all(a.bytes_read <= b.bytes_read for a, b in zip(progress, progress[1:], strict=False))
    # Bytes: only the needed tensors (plus the header), never the 47 MB of embeddings.
    fetched = hub.log.total_body_bytes(MINILM_REPO) - before
    assert remote.provenance.bytes_total <= fetched <= 1.05 * remote.provenance.bytes_total
    assert fetched < 0.6 * (minilm_dir() / "model.safetensors").stat().st_size


def test_report_structure_on_bert(local_report: Report) -> None:
    m = local_report.model
    assert (m.architecture, m.num_layers, m.num_heads, m.num_kv_heads, m.head_dim) == ("bert", 6, 12, 12, 32)
    layer = local_report.layers[0]
    assert set(layer.heads) == {"q", "k", "v", "o"}
    assert len(layer.heads["q"].overlap) == 12
    kinds = [j.kind for j in layer.junctions]
    assert kinds.count("ov") == kinds.count("qk") == 12 and kinds.count("mlp") == 1
    assert [j.between for j in layer.junctions if j.kind == "residual"] == ["attn->mlp"]
    assert [j.between for j in local_report.layers[1].junctions if j.kind == "residual"] == ["mlp->attn", "attn->mlp"]
    # Composition is filled for every layer but the last (it needs the next layer's reads).
    assert all(set(layer.composition) == {"q", "k", "v"} for layer in local_report.layers[:-1])
    assert local_report.layers[-1].composition == {}
    assert set(layer.spectra) == {"q", "k", "v", "o", "up", "down"}
    for j in layer.junctions:
        assert 0.0 <= j.kappa <= 1.0 and 0.0 <= j.imbalance <= 1.0
        assert j.flag.ladder and j.flag.intersection_dim == [row[i] for i, row in enumerate(j.flag.relative_position)]
    mlp = next(j for j in layer.junctions if j.kind == "mlp")
    assert mlp.n == 1536 and mlp.flag.ladder[-1] == 384


def test_summary_matches_the_layers(local_report: Report) -> None:
    """The summary is the mean of what the layers report."""
    ratios = {
        kind: [j.kappa_ratio for layer in local_report.layers for j in layer.junctions if j.kind == kind]
        for kind in ("mlp", "ov")
    }
    s = local_report.summary
    assert s.junctions["mlp"].mean_kappa_ratio == pytest.approx(sum(ratios["mlp"]) / len(ratios["mlp"]))
    assert s.commutator_gap == pytest.approx(s.junctions["mlp"].mean_kappa_ratio - s.junctions["ov"].mean_kappa_ratio)
    assert s.redundant_head_pairs == sum(
        h.redundant_pairs for layer in local_report.layers for h in layer.heads.values()
    )


def test_options_switch_parts_off() -> None:
    report = scan(LocalSource(minilm_dir()), ScanOptions(heads=False, per_head_junctions=False, residual=False))
    assert all(layer.heads == {} and layer.composition == {} for layer in report.layers)
    assert {j.kind for layer in report.layers for j in layer.junctions} == {"mlp"}


def test_cancel_between_layers() -> None:
    calls: list[int] = []

    def cancel_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(ScanCanceledError, match="after 2 of 6 layers"):
        scan(LocalSource(minilm_dir()), ScanOptions(per_head_junctions=False), should_cancel=cancel_after_two)


def test_nan_weights_fail_with_the_tensor_named(tmp_path: Path) -> None:
    tensors = load_file(minilm_dir() / "model.safetensors")
    tensors["encoder.layer.1.intermediate.dense.weight"][3, 5] = float("nan")
    shutil.copy(minilm_dir() / "config.json", tmp_path / "config.json")
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(NonFiniteWeightsError, match="encoder.layer.1.intermediate.dense.weight"):
        scan(LocalSource(tmp_path), ScanOptions(per_head_junctions=False))


def test_half_precision_checkpoint_is_upcast(tmp_path: Path, local_report: Report) -> None:
    """A BF16 copy of MiniLM scans to nearly the same numbers (bf16 rounding only)."""
    tensors = {
        k: v.to(torch.bfloat16) if v.is_floating_point() else v
        for k, v in load_file(minilm_dir() / "model.safetensors").items()
    }
    (tmp_path / "config.json").write_text(json.dumps(json.loads((minilm_dir() / "config.json").read_text())))
    save_file(tensors, tmp_path / "model.safetensors")
    half = scan(LocalSource(tmp_path), ScanOptions(per_head_junctions=False, heads=False))
    full = next(j for j in local_report.layers[0].junctions if j.kind == "mlp")
    mlp = next(j for j in half.layers[0].junctions if j.kind == "mlp")
    assert mlp.kappa == pytest.approx(full.kappa, rel=0.02)
    assert half.provenance.bytes_total < local_report.provenance.bytes_total * 0.6


def test_header_naming_a_huge_layer_index_is_rejected_before_planning(tmp_path: Path) -> None:
    """A checkpoint whose names jump to layer 3,000,000 fails at once instead of planning millions of layers."""
    tensors = load_file(minilm_dir() / "model.safetensors")
    tensors["encoder.layer.3000000.attention.self.query.weight"] = torch.zeros(2, 2)
    shutil.copy(minilm_dir() / "config.json", tmp_path / "config.json")
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(CorruptFileError, match="layer indices are not 0..6"):
        scan(LocalSource(tmp_path))
