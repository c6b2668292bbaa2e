"""Hub streaming over the local Hub-shaped server: pinned commits, minimal bytes, typed failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.conftest import MINILM_REPO, minilm_dir
from tests.hub_server import HubServer, RepoBehaviour
from tests.safetensors_files import safetensors_bytes, write_repo
from workers.errors import (
    CorruptFileError,
    GatedOrPrivateError,
    HubUnavailableError,
    ModelNotFoundError,
    NoSafetensorsError,
    RangeUnsupportedError,
)
from workers.sources import HubSettings, HubSource


def _settings(hub: HubServer, **kwargs: object) -> HubSettings:
    return HubSettings(endpoint=hub.endpoint, **{"max_retries": 2, "base_wait_s": 0.01, **kwargs})  # type: ignore[arg-type]


def test_resolves_commit_and_reads_exact_tensors(hub: HubServer) -> None:
    """Tensors read by range equal the file's own tensors, and the source pins the served commit sha."""
    source = HubSource(MINILM_REPO, "main", _settings(hub))
    assert source.commit_sha == hub.commit_sha(MINILM_REPO)
    names = ["encoder.layer.0.attention.self.query.weight", "encoder.layer.5.output.dense.weight"]
    expected = load_file(minilm_dir() / "model.safetensors")
    for name, tensor in source.read(names).items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0)


def test_reads_fetch_at_most_5_percent_more_than_the_needed_tensors(hub: HubServer) -> None:
    source = HubSource(MINILM_REPO, None, _settings(hub))
    before, header_bytes = hub.log.total_body_bytes(MINILM_REPO), source.bytes_read
    names = [n for n in source.index if n.startswith("encoder.layer.") and n.endswith("dense.weight")]
    source.read(names)
    needed = sum(source.index[n].info.nbytes for n in names)
    fetched = hub.log.total_body_bytes(MINILM_REPO) - before
    assert needed <= fetched <= 1.05 * needed
    assert source.bytes_read - header_bytes == fetched
    assert fetched < 0.5 * (minilm_dir() / "model.safetensors").stat().st_size  # embeddings never fetched


def test_sharded_checkpoint_is_read_through_its_index(hub: HubServer, hub_root: Path) -> None:
    tensors = load_file(minilm_dir() / "model.safetensors")
    repo = hub_root / "org/sharded"
    repo.mkdir(parents=True)
    shutil.copy(minilm_dir() / "config.json", repo / "config.json")
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for shard, shard_names in shards.items():
        save_file({n: tensors[n] for n in shard_names}, repo / shard)
        weight_map.update(dict.fromkeys(shard_names, shard))
    (repo / "model.safetensors.index.json").write_text(__import__("json").dumps({"weight_map": weight_map}))
    source = HubSource("org/sharded", None, _settings(hub))
    assert source.files == sorted(shards)
    assert set(source.index) == set(names)
    name = "encoder.layer.3.intermediate.dense.weight"
    torch.testing.assert_close(source.read([name])[name], tensors[name], rtol=0, atol=0)


def test_missing_repo_is_model_not_found(hub: HubServer) -> None:
    with pytest.raises(ModelNotFoundError, match="nobody/nothing"):
        HubSource("nobody/nothing", None, _settings(hub))


def test_missing_revision_is_model_not_found(hub: HubServer) -> None:
    with pytest.raises(ModelNotFoundError, match="revision"):
        HubSource(MINILM_REPO, "no-such-branch", _settings(hub))


def test_private_repo_needs_the_token(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/private", {"model.safetensors": (minilm_dir() / "model.safetensors").read_bytes()})
    hub.behaviour["org/private"] = RepoBehaviour(token="hf_secret")
    with pytest.raises(GatedOrPrivateError, match="org/private") as info:
        HubSource("org/private", None, _settings(hub))
    assert "hf_secret" not in str(info.value)
    assert HubSource("org/private", None, _settings(hub, token="hf_secret")).files == ["model.safetensors"]


def test_gated_repo_is_gated_or_private(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/gated", {"model.safetensors": b""})
    hub.behaviour["org/gated"] = RepoBehaviour(gated=True)
    with pytest.raises(GatedOrPrivateError, match="403"):
        HubSource("org/gated", None, _settings(hub))


def test_pickle_only_repo_is_refused_without_unpickling(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/pickled", {"pytorch_model.bin": b"\x80\x04not really a pickle"})
    with pytest.raises(NoSafetensorsError, match="pytorch_model.bin"):
        HubSource("org/pickled", None, _settings(hub))
    assert hub.log.body_bytes[("org/pickled", "pytorch_model.bin")] == 0


def test_truncated_file_is_corrupt(hub: HubServer, hub_root: Path) -> None:
    blob = (minilm_dir() / "model.safetensors").read_bytes()
    write_repo(hub_root, "org/truncated", {"model.safetensors": blob[: len(blob) // 2]})
    with pytest.raises(CorruptFileError, match="past the file end"):
        HubSource("org/truncated", None, _settings(hub))


def test_header_claiming_10_gb_is_corrupt(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/huge-header", {"model.safetensors": safetensors_bytes({}, b"", 10 * 1024**3)})
    with pytest.raises(CorruptFileError, match="cap"):
        HubSource("org/huge-header", None, _settings(hub))


def test_overlapping_offsets_are_corrupt(hub: HubServer, hub_root: Path) -> None:
    header = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
    }
    write_repo(hub_root, "org/overlap", {"model.safetensors": safetensors_bytes(header, bytes(24))})
    with pytest.raises(CorruptFileError, match="overlap"):
        HubSource("org/overlap", None, _settings(hub))


def test_server_ignoring_range_is_refused_not_downloaded(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/norange", {"model.safetensors": (minilm_dir() / "model.safetensors").read_bytes()})
    hub.behaviour["org/norange"] = RepoBehaviour(ignore_range=True)
    with pytest.raises(RangeUnsupportedError, match="Range"):
        HubSource("org/norange", None, _settings(hub))


def test_transient_503_is_retried(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/flaky", {"model.safetensors": (minilm_dir() / "model.safetensors").read_bytes()})
    hub.behaviour["org/flaky"] = RepoBehaviour(fail_first=2)
    assert len(HubSource("org/flaky", None, _settings(hub)).index) == 104


def test_persistent_503_is_hub_unavailable(hub: HubServer, hub_root: Path) -> None:
    write_repo(hub_root, "org/down", {"model.safetensors": (minilm_dir() / "model.safetensors").read_bytes()})
    hub.behaviour["org/down"] = RepoBehaviour(fail_first=100)
    with pytest.raises(HubUnavailableError):
        HubSource("org/down", None, _settings(hub))


def test_unreachable_endpoint_is_hub_unavailable() -> None:
    with pytest.raises(HubUnavailableError):
        HubSource("org/name", None, HubSettings(endpoint="http://127.0.0.1:9", max_retries=0, timeout_s=2))


def test_empty_weights_file_is_corrupt_not_retried(hub: HubServer, hub_root: Path) -> None:
    """A 0-byte file answers 416 to the header read: a corrupt file, not an unavailable Hub."""
    write_repo(hub_root, "org/empty", {"model.safetensors": b""})
    with pytest.raises(CorruptFileError, match="416"):
        HubSource("org/empty", None, _settings(hub))


def test_oversized_config_is_refused_while_streaming(hub: HubServer, hub_root: Path) -> None:
    path = write_repo(
        hub_root, "org/huge-config", {"model.safetensors": (minilm_dir() / "model.safetensors").read_bytes()}
    )
    (path / "config.json").write_bytes(b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    source = HubSource("org/huge-config", None, _settings(hub))
    with pytest.raises(CorruptFileError, match="cap for JSON"):
        source.config()
