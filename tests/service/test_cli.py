"""`flagscan scan` from the command line: local directory and Hub id give the same numbers; failures exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import MINILM_REPO, minilm_dir
from tests.hub_server import HubServer


def _flagscan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "FLAGSCAN_TORCH_THREADS": "1", **(env or {})},
    )


def test_scan_local_and_over_http_write_identical_reports(hub: HubServer, tmp_path: Path) -> None:
    local = _flagscan("scan", str(minilm_dir()), "--output", str(tmp_path / "local.json"), "--device", "cpu")
    assert local.returncode == 0, local.stderr
    remote = _flagscan(
        "scan", MINILM_REPO, "--output", str(tmp_path / "remote" / "report.json"), env={"HF_ENDPOINT": hub.endpoint}
    )
    assert remote.returncode == 0, remote.stderr
    a = json.loads((tmp_path / "local.json").read_text())
    b = json.loads((tmp_path / "remote" / "report.json").read_text())
    assert a["layers"] == b["layers"] and a["summary"] == b["summary"]
    assert "commutator gap" in remote.stdout and "redundant head pairs" in remote.stdout
    assert (tmp_path / "remote" / "report.md").read_text().startswith("---\nflagscan:")
    assert (tmp_path / "remote" / "report.kappa_ratio.png").read_bytes().startswith(b"\x89PNG")


def test_failures_exit_nonzero_with_a_code(hub: HubServer, tmp_path: Path) -> None:
    missing = _flagscan(
        "scan", "nobody/nothing", "--output", str(tmp_path / "r.json"), env={"HF_ENDPOINT": hub.endpoint}
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("error [model_not_found]: nobody/nothing")
    bad = _flagscan("scan", "no-such-org/../x", "--output", str(tmp_path / "r.json"))
    assert bad.returncode == 1 and "error [invalid_model_id]" in bad.stderr
    not_a_model = _flagscan("scan", str(tmp_path), "--output", str(tmp_path / "r.json"))
    assert not_a_model.returncode == 1 and "no config.json" in not_a_model.stderr
    assert not (tmp_path / "r.json").exists()
