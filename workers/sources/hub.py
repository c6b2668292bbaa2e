"""Weights streamed from the Hugging Face Hub (or any ``HF_ENDPOINT``) with HTTP range reads, pinned to a commit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx2
import torch
from huggingface_hub import hf_hub_url
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

from workers.errors import CorruptFileError, RangeUnsupportedError, ScanError
from workers.hub_api import HubSettings, raise_translated, resolve_commit
from workers.safetensors_header import HEADER_FIRST_READ_BYTES, TensorInfo, header_length, parse_header
from workers.sources.base import (
    CONFIG_MAX_BYTES,
    TensorLocation,
    WeightSource,
    decode_tensor,
    parse_json,
    select_weight_files,
)

MERGE_GAP_BYTES = 64 * 1024
"""Adjacent tensors separated by at most this many unneeded bytes (biases, norms) are fetched in one range."""

MAX_RANGE_BYTES = 256 * 1024 * 1024
"""Merged ranges stop growing at this size so one request never holds too much in flight."""

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class HubSource(WeightSource):
    """A Hub model at one commit. Reads headers and tensors with range GETs on pooled connections."""

    def __init__(
        self,
        repo_id: str,
        revision: str | None = None,
        settings: HubSettings | None = None,
        *,
        commit_sha: str | None = None,
    ) -> None:
        """Resolve ``revision`` to a commit, or pin ``commit_sha`` when the caller resolved it already."""
        super().__init__()
        self.settings = settings or HubSettings()
        self.model_id = repo_id
        self.revision = revision
        self.commit_sha, listing = resolve_commit(repo_id, commit_sha or revision, self.settings)
        self._headers = build_hf_headers(token=self.settings.token or None)
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency), thread_name_prefix="hub-range")
        self.files = select_weight_files(listing, self.context, self._read_json)
        self.index = {}
        for tensors in self._pool.map(self._read_header, self.files):
            self.index.update(tensors)

    # 1. Plain files and ranges.

    def _url(self, filename: str) -> str:
        return hf_hub_url(self.model_id, filename, revision=self.commit_sha, endpoint=self.settings.endpoint)

    @contextmanager
    def _get(self, filename: str, headers: dict[str, str] | None = None) -> Iterator[httpx2.Response]:
        context = f"{self.context}/{filename}"
        try:
            with http_stream_backoff(
                "GET",
                self._url(filename),
                headers={**self._headers, **(headers or {})},
                max_retries=self.settings.max_retries,
                base_wait_time=self.settings.base_wait_s,
                timeout=self.settings.timeout_s,
                follow_redirects=True,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    hf_raise_for_status(response)
                yield response
        except ScanError:
            raise
        except Exception as err:  # noqa: BLE001 - translated to typed errors
            raise_translated(err, context)

    def _read_json(self, filename: str) -> dict[str, Any]:
        """A small JSON file, read in chunks and abandoned past ``CONFIG_MAX_BYTES`` (never held whole)."""
        context = f"{self.context}/{filename}"
        with self._get(filename) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > CONFIG_MAX_BYTES:
                    raise CorruptFileError(f"{context}: over the {CONFIG_MAX_BYTES}-byte cap for JSON files")
            return parse_json(bytes(body), context)

    def _read_range(self, filename: str, start: int, end: int) -> tuple[bytes, int]:
        """Bytes ``[start, end)`` of a file and the file's total size; refuses servers that ignore Range."""
        context = f"{self.context}/{filename}"
        with self._get(filename, {"Range": f"bytes={start}-{end - 1}"}) as response:
            if response.status_code != 206:
                raise RangeUnsupportedError(
                    f"{context}: asked for bytes {start}-{end - 1}, server answered {response.status_code} "
                    "without honouring Range; refusing to download the whole file"
                )
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if not match or int(match.group(1)) != start:
                raise CorruptFileError(f"{context}: bad Content-Range {response.headers.get('content-range')!r}")
            size = int(match.group(3))
            want = min(end, size) - start
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > want:
                    raise CorruptFileError(f"{context}: range {start}-{end - 1} returned more than {want} bytes")
            if len(body) != want:
                raise CorruptFileError(f"{context}: range {start}-{end - 1} returned {len(body)} of {want} bytes")
        self._count(len(body))
        return bytes(body), size

    # 2. Headers.

    def _read_header(self, filename: str) -> dict[str, TensorLocation]:
        context = f"{self.context}/{filename}"
        first, size = self._read_range(filename, 0, HEADER_FIRST_READ_BYTES)
        n = header_length(first, size, context)
        raw = first[8 : 8 + n] if 8 + n <= len(first) else first[8:] + self._read_range(filename, len(first), 8 + n)[0]
        header = parse_header(raw, size, context)
        return {name: TensorLocation(filename, info) for name, info in header.tensors.items()}

    # 3. Tensors.

    def config(self) -> dict[str, Any]:
        """The commit's config.json."""
        return self._read_json("config.json")

    def read(self, names: list[str]) -> dict[str, torch.Tensor]:
        """Fetch the named tensors: ranges merged per file, fetched concurrently, each checked for length."""
        locations = [self.index[n] for n in names]
        out = {loc.info.name: decode_tensor(b"", loc.info) for loc in locations if loc.info.nbytes == 0}
        groups = _merge_ranges([loc for loc in locations if loc.info.nbytes > 0])
        results = self._pool.map(lambda g: (g, self._read_range(g[0], g[1], g[2])[0]), groups)
        for (_, start, _, infos), body in results:
            for info in infos:
                out[info.name] = decode_tensor(memoryview(body)[info.begin - start : info.end - start], info)
        return out

    def close(self) -> None:
        """Stop the range-fetch pool."""
        self._pool.shutdown(wait=False)


def _merge_ranges(locations: list[TensorLocation]) -> list[tuple[str, int, int, list[TensorInfo]]]:
    """Group non-empty tensors into (file, start, end, tensors) ranges, merging neighbours across small gaps."""
    groups: list[tuple[str, int, int, list[TensorInfo]]] = []
    for loc in sorted(locations, key=lambda x: (x.file, x.info.begin)):
        info = loc.info
        if groups:
            file, start, end, infos = groups[-1]
            if file == loc.file and 0 <= info.begin - end <= MERGE_GAP_BYTES and info.end - start <= MAX_RANGE_BYTES:
                groups[-1] = (file, start, max(end, info.end), [*infos, info])
                continue
        groups.append((loc.file, info.begin, info.end, [info]))
    return groups
