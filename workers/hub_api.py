"""Torch-free Hub access shared by the API and the workers: settings, revision resolution, error translation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from workers.errors import CorruptFileError, GatedOrPrivateError, HubUnavailableError, ModelNotFoundError, ScanError


@dataclass(frozen=True)
class HubSettings:
    """Connection settings for one source; defaults mirror ``huggingface_hub``'s environment handling."""

    endpoint: str | None = None
    token: str | None = None
    concurrency: int = 8
    max_retries: int = 4
    base_wait_s: float = 0.5
    timeout_s: float = 30.0


def raise_translated(err: Exception, context: str) -> NoReturn:
    """Map a huggingface_hub / httpx error onto flagscan's typed errors (the one place that does it)."""
    if isinstance(err, ScanError):
        raise err
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status == 416:
        raise CorruptFileError(f"{context}: the file is shorter than its header says (HTTP 416)") from err
    if isinstance(err, GatedRepoError) or status in (401, 403):
        raise GatedOrPrivateError(f"{context}: gated or private (HTTP {status}); check HF_TOKEN") from err
    if isinstance(err, RevisionNotFoundError):
        raise ModelNotFoundError(f"{context}: revision not found") from err
    if isinstance(err, RepositoryNotFoundError | EntryNotFoundError) or status == 404:
        raise ModelNotFoundError(f"{context}: not found (HTTP 404)") from err
    if isinstance(err, HFValidationError):
        raise ModelNotFoundError(f"{context}: invalid repository id ({err})") from err
    if isinstance(err, HfHubHTTPError) or isinstance(err, httpx2.HTTPError) or isinstance(err, OSError):
        raise HubUnavailableError(f"{context}: Hub unavailable ({type(err).__name__}: {err})") from err
    raise err


def resolve_commit(repo_id: str, revision: str | None, settings: HubSettings | None = None) -> tuple[str, list[str]]:
    """Resolve ``revision`` (branch, tag or sha; default ``main``) to a commit sha and list the repo's files."""
    settings = settings or HubSettings()
    context = f"{repo_id}@{revision or 'main'}"
    try:
        info = HfApi(endpoint=settings.endpoint, token=settings.token).model_info(
            repo_id, revision=revision, timeout=settings.timeout_s
        )
    except Exception as err:  # noqa: BLE001 - translated to typed errors
        raise_translated(err, context)
    if not info.sha:
        raise HubUnavailableError(f"{context}: the Hub returned no commit sha")
    return info.sha, [s.rfilename for s in (info.siblings or [])]


@dataclass(frozen=True)
class RepoSnapshot:
    """A repo pinned to a commit: its sha, root file names, their sizes where the Hub reported them, and privacy."""

    commit_sha: str
    files: list[str]
    weight_bytes: int | None
    private: bool


def snapshot(repo_id: str, revision: str | None, settings: HubSettings | None = None) -> RepoSnapshot:
    """Resolve ``revision`` and describe the commit (one model-info call, with file sizes)."""
    settings = settings or HubSettings()
    context = f"{repo_id}@{revision or 'main'}"
    try:
        info = HfApi(endpoint=settings.endpoint, token=settings.token).model_info(
            repo_id, revision=revision, timeout=settings.timeout_s, files_metadata=True
        )
    except Exception as err:  # noqa: BLE001 - translated to typed errors
        raise_translated(err, context)
    if not info.sha:
        raise HubUnavailableError(f"{context}: the Hub returned no commit sha")
    siblings = info.siblings or []
    sizes = [s.size for s in siblings if s.rfilename.endswith(".safetensors") and "/" not in s.rfilename]
    weight_bytes = sum(sizes) if sizes and all(size is not None for size in sizes) else None
    private = bool(info.private) or bool(getattr(info, "gated", False))
    return RepoSnapshot(info.sha, [s.rfilename for s in siblings], weight_bytes, private)  # type: ignore[arg-type]
