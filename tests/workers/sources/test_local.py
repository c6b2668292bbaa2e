"""Local directories: the same validation and tensors as over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import minilm_dir
from tests.safetensors_files import safetensors_bytes, write_repo
from workers.errors import CorruptFileError, ModelNotFoundError, NoSafetensorsError
from workers.sources import LocalSource, open_source


def test_reads_tensors_exactly() -> None:
    source = LocalSource(minilm_dir())
    expected = load_file(minilm_dir() / "model.safetensors")
    name = "encoder.layer.2.attention.output.dense.weight"
    torch.testing.assert_close(source.read([name])[name], expected[name], rtol=0, atol=0)
    assert source.bytes_read == expected[name].numel() * 4


def test_open_source_prefers_an_existing_directory() -> None:
    assert isinstance(open_source(str(minilm_dir())), LocalSource)


def test_directory_without_config_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="config.json"):
        LocalSource(tmp_path)


def test_pickle_only_directory_is_refused(tmp_path: Path) -> None:
    path = write_repo(tmp_path, "m", {"model.pt": b"pickle"})
    with pytest.raises(NoSafetensorsError, match="never unpickles"):
        LocalSource(path)


@pytest.mark.parametrize("content", [b"", b"\x01\x02", safetensors_bytes({}, b"", 10 * 1024**3)])
def test_short_or_lying_files_are_corrupt(tmp_path: Path, content: bytes) -> None:
    path = write_repo(tmp_path, "m", {"model.safetensors": content})
    with pytest.raises(CorruptFileError):
        LocalSource(path)
