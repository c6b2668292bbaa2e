"""`flagscan serve` with no Redis URL: embedded Redis + worker + API in one command, persistent across restarts."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.conftest import MINILM_REPO
from tests.service.conftest import free_port, wait_for


def test_serve_embedded_scans_and_keeps_reports_across_restart(spawn, tmp_path: Path) -> None:  # noqa: ANN001
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {"FLAGSCAN_REDIS_URL": "", "FLAGSCAN_DATA_DIR": str(tmp_path / "data"), "FLAGSCAN_PORT": str(port)}

    def ready() -> bool:
        try:
            return httpx.get(f"{api}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    server = spawn("serve", env=env)
    wait_for(ready, 90, "the embedded service to be ready")
    scan_id = httpx.post(f"{api}/v1/scans", json={"model_id": MINILM_REPO}, timeout=30).json()["id"]
    wait_for(
        lambda: httpx.get(f"{api}/v1/scans/{scan_id}", timeout=5).json()["status"] in ("succeeded", "failed"),
        240,
        "the scan",
    )
    assert httpx.get(f"{api}/v1/scans/{scan_id}", timeout=5).json()["status"] == "succeeded"
    first_report = httpx.get(f"{api}/v1/scans/{scan_id}/report", timeout=10).json()

    server.send_signal(signal.SIGINT)  # Ctrl-C
    assert server.wait(timeout=60) == 0
    assert (tmp_path / "data" / "flagscan.rdb").exists()

    spawn("serve", env=env)
    wait_for(ready, 90, "the restarted service")
    again = httpx.post(f"{api}/v1/scans", json={"model_id": MINILM_REPO}, timeout=30)
    assert again.status_code == 200 and again.json()["id"] == scan_id
    assert httpx.get(f"{api}/v1/scans/{scan_id}/report", timeout=10).json() == first_report
