"""End to end with real processes: uvicorn serving the API, `flagscan worker` processes doing the scans."""

from __future__ import annotations

import os
import signal

import httpx
from redis import Redis

from tests.conftest import MINILM_REPO
from tests.service.conftest import wait_for
from workers.report import Report


def _status(api: str, scan_id: str) -> dict:
    return httpx.get(f"{api}/v1/scans/{scan_id}", timeout=10).json()


def test_post_poll_report_and_card_over_real_processes(live_api: str, spawn, redis: Redis) -> None:  # noqa: ANN001
    """POST the MiniLM repo served by the local Hub; a real worker scans it; report and card come back."""
    spawn("worker")
    wait_for(lambda: httpx.get(f"{live_api}/readyz", timeout=5).status_code == 200, 60, "a worker to register")
    response = httpx.post(f"{live_api}/v1/scans", json={"model_id": MINILM_REPO}, timeout=30)
    assert response.status_code == 202
    scan_id = response.json()["id"]
    assert response.headers["location"].endswith(f"/v1/scans/{scan_id}")
    wait_for(lambda: _status(live_api, scan_id)["status"] in ("succeeded", "failed"), 240, "the scan to end")
    final = _status(live_api, scan_id)
    assert final["status"] == "succeeded", final["error"]
    report = Report.model_validate(httpx.get(f"{live_api}/v1/scans/{scan_id}/report", timeout=10).json())
    assert report.model.architecture == "bert" and len(report.layers) == 6
    kinds = {j.kind for layer in report.layers for j in layer.junctions}
    assert kinds == {"mlp", "ov", "qk", "residual"}
    assert report.summary.commutator_gap is not None
    card = httpx.get(f"{live_api}/v1/scans/{scan_id}/card", timeout=10).text
    assert "## Layerwise alignment (flagscan)" in card and "commutator_gap:" in card
    metrics = httpx.get(f"{live_api}/metrics", timeout=10).text
    assert 'flagscan_scans_finished_total{outcome="succeeded"} 1.0' in metrics


def test_scan_survives_a_sigkilled_worker(live_api: str, spawn, redis: Redis) -> None:  # noqa: ANN001
    """Kill the worker (and its work horse) mid-scan with SIGKILL; the job is re-queued and a second worker finishes."""
    first = spawn("worker")
    wait_for(lambda: httpx.get(f"{live_api}/readyz", timeout=5).status_code == 200, 60, "the first worker")
    scan_id = httpx.post(f"{live_api}/v1/scans", json={"model_id": MINILM_REPO}, timeout=30).json()["id"]
    wait_for(lambda: _status(live_api, scan_id)["progress"]["layers_done"] >= 1, 120, "the scan to start")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert _status(live_api, scan_id)["status"] in ("running", "queued")
    spawn("worker")
    wait_for(lambda: _status(live_api, scan_id)["status"] in ("succeeded", "failed"), 300, "the re-queued scan")
    final = _status(live_api, scan_id)
    assert final["status"] == "succeeded", final["error"]
    assert final["progress"]["layers_done"] == 6


def test_cancel_a_running_scan_and_keep_serving(live_api: str, spawn, redis: Redis) -> None:  # noqa: ANN001
    """DELETE during the scan stops it (RQ stop-job command), the scan reads canceled, and the worker takes new work."""
    spawn("worker")
    wait_for(lambda: httpx.get(f"{live_api}/readyz", timeout=5).status_code == 200, 60, "a worker to register")
    scan_id = httpx.post(f"{live_api}/v1/scans", json={"model_id": MINILM_REPO}, timeout=30).json()["id"]
    wait_for(lambda: _status(live_api, scan_id)["progress"]["layers_done"] >= 1, 120, "the scan to start")
    canceled = httpx.delete(f"{live_api}/v1/scans/{scan_id}", timeout=10)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    done_at_cancel = canceled.json()["progress"]["layers_done"]
    assert done_at_cancel < 6
    after = httpx.post(
        f"{live_api}/v1/scans", json={"model_id": MINILM_REPO, "options": {"per_head_junctions": False}}, timeout=30
    ).json()
    wait_for(lambda: _status(live_api, after["id"])["status"] == "succeeded", 240, "the next scan on the same worker")
    final = _status(live_api, scan_id)
    assert final["status"] == "canceled" and final["error"]["code"] == "canceled"
    assert final["progress"]["layers_done"] <= done_at_cancel + 1  # stopped within a layer of the request
