"""Header parsing: golden bytes and every way a hostile header can lie."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save

from tests.safetensors_files import safetensors_bytes
from workers.errors import CorruptFileError
from workers.safetensors_header import HEADER_MAX_BYTES, header_length, parse_header
from workers.sources.base import decode_tensor


def _parse(blob: bytes) -> dict:
    n = header_length(blob[:8], len(blob), "test.safetensors")
    return parse_header(blob[8 : 8 + n], len(blob), "test.safetensors").tensors


def test_golden_bytes_from_the_safetensors_library() -> None:
    """A file written by safetensors itself parses to absolute offsets 8 + N + begin, and decodes exactly."""
    tensors = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.tensor([1.5], dtype=torch.bfloat16)}
    blob = save(tensors)
    parsed = _parse(blob)
    n = int.from_bytes(blob[:8], "little")
    assert parsed["a"].shape == (2, 3) and parsed["a"].dtype == "F32"
    assert parsed["a"].begin == 8 + n + 0 or parsed["b"].begin == 8 + n + 0
    for name, info in parsed.items():
        torch.testing.assert_close(decode_tensor(blob[info.begin : info.end], info), tensors[name])


def test_exact_golden_header() -> None:
    blob = b'<\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}' + bytes(16)
    info = _parse(blob)["test"]
    assert (info.dtype, info.shape, info.begin, info.end) == ("I32", (2, 2), 68, 84)


def test_header_claiming_10_gb_is_rejected_before_allocation() -> None:
    blob = safetensors_bytes({}, b"", declared_length=10 * 1024**3)
    with pytest.raises(CorruptFileError, match="over the 25000000-byte cap"):
        header_length(blob[:8], len(blob), "big.safetensors")
    assert HEADER_MAX_BYTES == 25_000_000


def test_header_longer_than_file_is_rejected() -> None:
    blob = safetensors_bytes({}, b"", declared_length=1000)
    with pytest.raises(CorruptFileError, match="only"):
        header_length(blob[:8], len(blob), "short.safetensors")


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            bytes(12),
            "overlap",
        ),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, bytes(8), "needs 16 bytes"),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8), "past the file end"),
        ({"a": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 2]}}, bytes(2), "unsupported dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b"", "invalid shape"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}, bytes(8), "invalid data_offsets"),
        ({"a": {"dtype": "F32"}}, b"", "lacks"),
        (["not", "an", "object"], b"", "not a JSON object"),
    ],
)
def test_lying_headers_are_rejected(header: object, data: bytes, message: str) -> None:
    with pytest.raises(CorruptFileError, match=message):
        _parse(safetensors_bytes(header, data))  # type: ignore[arg-type]


def test_invalid_json_is_rejected() -> None:
    blob = b"\x05\x00\x00\x00\x00\x00\x00\x00{oops"
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        _parse(blob)


def test_metadata_is_ignored_and_f8_decodes() -> None:
    raw = torch.tensor([0.5, -2.0], dtype=torch.float8_e4m3fn)
    header = {"__metadata__": {"format": "pt"}, "x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}
    blob = safetensors_bytes(header, raw.view(torch.uint8).numpy().tobytes())
    info = _parse(blob)["x"]
    assert decode_tensor(blob[info.begin : info.end], info).to(torch.float32).tolist() == [0.5, -2.0]
