"""The RQ job function: permanent errors are returned, transient ones raised (so RQ retries only those)."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import MINILM_REPO
from tests.hub_server import HubServer
from workers.errors import HubUnavailableError
from workers.jobs import run_scan


def test_success_returns_the_compressed_report(hub_env: HubServer) -> None:
    outcome = run_scan(MINILM_REPO, hub_env.commit_sha(MINILM_REPO), {"per_head_junctions": False}, "main")
    assert outcome["status"] == "succeeded"
    report = json.loads(gzip.decompress(outcome["report_gz"]))
    assert report["model"]["revision"] == "main" and report["model"]["commit_sha"] == hub_env.commit_sha(MINILM_REPO)


def test_permanent_error_is_returned_not_raised(hub_env: HubServer) -> None:
    outcome = run_scan("nobody/nothing", "0" * 40, {})
    assert outcome == {"status": "failed", "error": {"code": "model_not_found", "message": outcome["error"]["message"]}}
    assert "nobody/nothing" in outcome["error"]["message"]


def test_transient_error_is_raised_for_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("FLAGSCAN_HUB_MAX_RETRIES", "0")
    from workers.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(HubUnavailableError):
            run_scan("org/name", "0" * 40, {})
    finally:
        get_settings.cache_clear()


def test_unexpected_exception_is_a_permanent_internal_error(
    hub_env: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash inside the scan (a LAPACK failure, a job timeout) is returned, so RQ does not repeat it."""
    import workers.pipeline

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("linalg.svd: the algorithm failed to converge")

    monkeypatch.setattr(workers.pipeline, "scan", explode)
    outcome = run_scan(MINILM_REPO, hub_env.commit_sha(MINILM_REPO), {})
    assert outcome["status"] == "failed" and outcome["error"]["code"] == "internal_error"
    assert "failed to converge" in outcome["error"]["message"]
