"""The committed OpenAPI document matches the app, and a fuzzer finds no 5xx on a live server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from service.commands import openapi_document
from tests.service.conftest import wait_for

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    """Regenerate with `flagscan openapi` when this fails."""
    committed = json.loads(SPEC.read_text())
    assert committed == json.loads(json.dumps(openapi_document(), sort_keys=True)), "openapi/openapi.json drifted"


def test_schemathesis_finds_no_server_errors(live_api: str, spawn) -> None:  # noqa: ANN001
    """Property-based requests from the spec against a live app and worker: every answer is < 500."""
    spawn("worker")  # /readyz answers 503 by contract while no worker listens
    wait_for(lambda: httpx.get(f"{live_api}/readyz", timeout=5).status_code == 200, 60, "a worker to register")
    result = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", str(SPEC),
            "--url", live_api,
            "--checks", "not_a_server_error",
            "--max-examples", "25",
            "--seed", "1",
            "--generation-deterministic",
            "--request-timeout", "30",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
