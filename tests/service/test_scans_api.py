"""The /v1/scans API against a real Redis, with jobs run by a real RQ worker in burst mode."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from redis import Redis
from rq import Queue, SimpleWorker

from tests.conftest import MINILM_REPO, minilm_dir
from tests.safetensors_files import write_repo
from workers.report import Report
from workers.settings import Settings

FAST = {"per_head_junctions": False}
"""Options that skip the per-head junctions, to keep API tests quick (they are covered by pipeline tests)."""


def _run_queue(redis: Redis, settings: Settings) -> None:
    """Run every queued job in this process with a real RQ worker (burst mode)."""
    SimpleWorker([Queue(settings.FLAGSCAN_QUEUE, connection=redis)], connection=redis).work(burst=True)


def _post(client: TestClient, **body: object) -> tuple[int, dict]:
    response = client.post("/v1/scans", json=body)
    return response.status_code, response.json()


def test_scan_lifecycle_report_card_plots_and_cache(client: TestClient, redis: Redis, settings: Settings) -> None:
    """POST → 202 queued; a worker runs it; GET shows succeeded with full progress; re-POST is a 200 cache hit."""
    status, scan = _post(client, model_id=MINILM_REPO, options=FAST)
    assert status == 202 and scan["status"] == "queued"
    _run_queue(redis, settings)
    done = client.get(f"/v1/scans/{scan['id']}").json()
    assert done["status"] == "succeeded"
    assert done["progress"]["layers_done"] == done["progress"]["layers_total"] == 6
    assert done["progress"]["bytes_read"] >= done["progress"]["bytes_total"] > 0

    report = client.get(f"/v1/scans/{scan['id']}/report")
    assert report.status_code == 200
    parsed = Report.model_validate(report.json())
    assert parsed.model.commit_sha == scan["commit_sha"] and parsed.model.num_heads == 12
    assert {j.kind for layer in parsed.layers for j in layer.junctions} == {"mlp", "residual"}

    etag = report.headers["etag"]
    assert client.get(f"/v1/scans/{scan['id']}/report", headers={"If-None-Match": etag}).status_code == 304
    raw = client.get(f"/v1/scans/{scan['id']}/report", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"

    card = client.get(f"/v1/scans/{scan['id']}/card")
    assert card.headers["content-type"].startswith("text/markdown")
    assert card.text.startswith("---\nflagscan:\n") and f'model: "{MINILM_REPO}"' in card.text
    plot = client.get(f"/v1/scans/{scan['id']}/plots/kappa_ratio")
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")

    status, again = _post(client, model_id=MINILM_REPO, options=FAST)
    assert status == 200 and again["id"] == scan["id"] and again["status"] == "succeeded"
    stored = redis.get(
        f"{settings.FLAGSCAN_KEY_PREFIX}report:"
        + redis.hget(f"{settings.FLAGSCAN_KEY_PREFIX}scan:{scan['id']}", "cache_key").decode()
    )
    assert json.loads(gzip.decompress(stored))["model"]["id"] == MINILM_REPO  # stored compressed


def test_twenty_concurrent_identical_posts_make_one_job(client: TestClient, redis: Redis, settings: Settings) -> None:
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: _post(client, model_id=MINILM_REPO, options=FAST), range(20)))
    assert {status for status, _ in results} == {202}
    assert len({scan["id"] for _, scan in results}) == 1
    assert Queue(settings.FLAGSCAN_QUEUE, connection=redis).count == 1


def test_permanent_failure_is_typed_and_the_worker_keeps_serving(
    client: TestClient, redis: Redis, settings: Settings, hub_root: Path
) -> None:
    write_repo(hub_root, "org/pickle-only", {"pytorch_model.bin": b"\x80\x04"})
    _, bad = _post(client, model_id="org/pickle-only")
    _, good = _post(client, model_id=MINILM_REPO, options=FAST)
    _run_queue(redis, settings)
    failed = client.get(f"/v1/scans/{bad['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "no_safetensors" and "pytorch_model.bin" in failed["error"]["message"]
    assert client.get(f"/v1/scans/{good['id']}").json()["status"] == "succeeded"
    assert client.get(f"/v1/scans/{bad['id']}/report").json()["code"] == "report_not_ready"


def test_unsupported_architecture_fails_with_its_code(
    client: TestClient, redis: Redis, settings: Settings, hub_root: Path
) -> None:
    blob = (minilm_dir() / "model.safetensors").read_bytes()
    write_repo(hub_root, "org/alien", {"model.safetensors": blob}, config={"model_type": "alien"})
    _, scan = _post(client, model_id="org/alien")
    _run_queue(redis, settings)
    error = client.get(f"/v1/scans/{scan['id']}").json()["error"]
    assert error["code"] == "unsupported_architecture" and "llama" in error["message"]


def _keys(redis: Redis) -> set[bytes]:
    return set(redis.keys("*"))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model_id": "../../etc/passwd"}, 400, "invalid_model_id"),
        ({"model_id": "org/name/../../x"}, 400, "invalid_model_id"),
        ({"model_id": "org/na me"}, 400, "invalid_model_id"),
        ({"model_id": MINILM_REPO, "revision": "../../main"}, 400, "invalid_revision"),
        ({"model_id": MINILM_REPO, "options": {"tolerance": 3}}, 422, "unknown_option"),
        ({"model_id": MINILM_REPO, "options": {"tolerance_deg": 95}}, 422, "invalid_request"),
        ({"model_id": MINILM_REPO, "extra": True}, 422, "unknown_option"),
        ({}, 422, "invalid_request"),
    ],
)
def test_bad_input_gets_a_code_and_stores_nothing(
    client: TestClient, redis: Redis, body: dict, status: int, code: str
) -> None:
    before = _keys(redis)
    response = client.post("/v1/scans", json=body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert _keys(redis) == before


def test_oversized_body_is_413(client: TestClient, redis: Redis) -> None:
    before = _keys(redis)
    response = client.post(
        "/v1/scans", content=b'{"model_id": "' + b"a" * 1_000_000 + b'"}', headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")
    assert _keys(redis) == before


def test_unknown_model_is_404_and_unknown_scan_is_404(client: TestClient) -> None:
    response = client.post("/v1/scans", json={"model_id": "nobody/nothing"})
    assert (response.status_code, response.json()["code"]) == (404, "model_not_found")
    missing = client.get("/v1/scans/" + "0" * 32)
    assert (missing.status_code, missing.json()["code"]) == (404, "scan_not_found")
    assert client.get("/v1/scans/not-an-id").json()["code"] == "invalid_request"


def test_cancel_a_queued_scan(client: TestClient, redis: Redis, settings: Settings) -> None:
    _, scan = _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 12})
    canceled = client.delete(f"/v1/scans/{scan['id']}")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert client.delete(f"/v1/scans/{scan['id']}").json()["code"] == "not_cancelable"
    _run_queue(redis, settings)
    assert client.get(f"/v1/scans/{scan['id']}").json()["status"] == "canceled"
    status, fresh = _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 12})
    assert status == 202 and fresh["id"] != scan["id"]  # a canceled scan does not block a new one


def test_list_filters_and_paginates(client: TestClient) -> None:
    ids = [_post(client, model_id=MINILM_REPO, options={"tolerance_deg": 5 + i})[1]["id"] for i in range(5)]
    first = client.get("/v1/scans", params={"limit": 2, "model_id": MINILM_REPO}).json()
    assert [s["id"] for s in first["data"]] == ids[::-1][:2]
    second = client.get("/v1/scans", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [s["id"] for s in second["data"]] == ids[::-1][2:4]
    assert client.get("/v1/scans", params={"status": "succeeded"}).json()["data"] == []
    assert client.get("/v1/scans", params={"model_id": "other/model"}).json()["data"] == []


def test_latest_model_report_after_a_default_scan(client: TestClient, redis: Redis, settings: Settings) -> None:
    missing = client.get(f"/v1/models/{MINILM_REPO}/report")
    assert (missing.status_code, missing.json()["code"]) == (404, "report_not_found")
    _, scan = _post(client, model_id=MINILM_REPO)
    _run_queue(redis, settings)
    latest = client.get(f"/v1/models/{MINILM_REPO}/report", params={"revision": "main"})
    assert latest.status_code == 200 and latest.json()["model"]["commit_sha"] == scan["commit_sha"]


def test_operations_endpoints(client: TestClient, redis: Redis, settings: Settings) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and "no worker" in not_ready.json()["reason"]
    _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 20})
    metrics = client.get("/metrics").text
    assert "flagscan_queue_depth 1.0" in metrics
    assert 'flagscan_http_requests_total{method="POST",route="/v1/scans",status="202"} 1.0' in metrics


def test_private_reports_are_visible_only_to_the_key_that_scanned_them(
    settings: Settings, redis: Redis, hub_root: Path, hub, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """With API keys on, a private model's scan (and its hot-cached report) is a 404 for any other key."""
    from fastapi.testclient import TestClient as Client

    from service.app import create_app
    from tests.hub_server import RepoBehaviour
    from workers.settings import get_settings

    monkeypatch.setenv("HF_TOKEN", "hf_private")  # the worker's own token, from its environment
    get_settings.cache_clear()

    write_repo(hub_root, "org/secret", {"model.safetensors": (minilm_dir() / "model.safetensors").read_bytes()},
               config=json.loads((minilm_dir() / "config.json").read_text()))  # fmt: skip
    hub.behaviour["org/secret"] = RepoBehaviour(token="hf_private")
    keyed = settings.model_copy(
        update={"FLAGSCAN_API_KEYS": SecretStr("alice-key,bob-key"), "HF_TOKEN": SecretStr("hf_private")}
    )
    alice, bob = {"Authorization": "Bearer alice-key"}, {"X-API-Key": "bob-key"}
    with Client(create_app(keyed, redis)) as client:
        assert client.post("/v1/scans", json={"model_id": "org/secret"}).json()["code"] == "unauthorized"
        scan = client.post("/v1/scans", json={"model_id": "org/secret", "options": FAST}, headers=alice).json()
        _run_queue(redis, settings)
        assert client.get(f"/v1/scans/{scan['id']}", headers=alice).json()["status"] == "succeeded"
        private_report = client.get(f"/v1/scans/{scan['id']}/report", headers=alice)  # now hot in memory
        assert private_report.status_code == 200
        assert private_report.headers["cache-control"].startswith("private")
        assert "Authorization" in private_report.headers["vary"]
        odd_key = client.get(f"/v1/scans/{scan['id']}", headers={"X-API-Key": "clé".encode("latin-1")})
        assert (odd_key.status_code, odd_key.json()["code"]) == (401, "unauthorized")
        for path in ("", "/report", "/card"):
            hidden = client.get(f"/v1/scans/{scan['id']}{path}", headers=bob)
            assert (hidden.status_code, hidden.json()["code"]) == (404, "scan_not_found")
        assert client.get("/v1/scans", headers=bob).json()["data"] == []
        assert client.get("/v1/models/org/secret/report", headers=bob).status_code == 404
        again = client.post("/v1/scans", json={"model_id": "org/secret", "options": FAST}, headers=bob)
        assert again.status_code == 202 and again.json()["id"] != scan["id"]  # bob gets his own scan
    assert "hf_private" not in str(redis.hgetall(f"{settings.FLAGSCAN_KEY_PREFIX}scan:{scan['id']}"))


def test_a_dead_inflight_scan_is_not_joined(client: TestClient, redis: Redis, settings: Settings) -> None:
    """If a scan's job vanished (its worker died without any callback), an identical POST starts a new scan."""
    from rq.job import Job

    _, first = _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 14})
    Job.fetch(first["id"], connection=redis).delete()
    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()  # past the enqueue grace period
    redis.hset(f"{settings.FLAGSCAN_KEY_PREFIX}scan:{first['id']}", "created_at", old)
    assert client.get(f"/v1/scans/{first['id']}").json()["error"]["code"] == "job_lost"
    status, second = _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 14})
    assert status == 202 and second["id"] != first["id"]
    assert client.get(f"/v1/scans/{first['id']}").json()["status"] == "failed"
    assert Queue(settings.FLAGSCAN_QUEUE, connection=redis).count == 1


def test_filtered_listing_loses_nothing_across_pages(client: TestClient) -> None:
    """Matches spread over several pages of the index all appear exactly once, newest first."""
    wanted = []
    for i in range(6):
        _, scan = _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 30 + i})
        wanted.append(scan["id"])
        client.post("/v1/scans", json={"model_id": "org/other-model"})  # 404s, stores nothing
    seen, cursor = [], None
    for _ in range(10):
        page = client.get(
            "/v1/scans", params={"limit": 4, "model_id": MINILM_REPO, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == wanted[::-1]


def test_a_canceled_scan_stays_canceled_when_its_job_finishes(
    client: TestClient, redis: Redis, settings: Settings
) -> None:
    """The job's success callback cannot overwrite a cancel, and the orphan report is not indexed."""
    from service.store import ScanStore

    _, scan = _post(client, model_id=MINILM_REPO, options={"tolerance_deg": 16})
    store = ScanStore(redis, settings)
    store.finish(scan["id"], "canceled", {"code": "canceled", "message": "test"})
    store.save_report(scan["id"], gzip.compress(b"{}"))
    assert client.get(f"/v1/scans/{scan['id']}").json()["status"] == "canceled"
    assert store.scan_for_report(store.record(scan["id"])["cache_key"]) is None
