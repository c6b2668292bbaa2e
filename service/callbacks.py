"""RQ callbacks, referenced by dotted path at enqueue time. They run inside the worker process after a job."""

from __future__ import annotations

import json
from typing import Any

from redis import Redis
from rq.job import Job

from service.store import ScanStore
from workers.jobs import ERROR_META_KEY, PROGRESS_META_KEY
from workers.settings import get_settings


def scan_succeeded(job: Job, connection: Redis, result: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    """Store the outcome of a finished job: the report, or the permanent typed error it returned."""
    store = ScanStore(connection, get_settings())
    if result.get("status") == "succeeded":
        store.save_report(job.id, result["report_gz"])
        progress = job.get_meta(refresh=False).get(PROGRESS_META_KEY, {})
        metrics = store.keys.metrics()
        with connection.pipeline() as pipe:
            pipe.hincrby(metrics, "scans_succeeded", 1)
            pipe.hincrby(metrics, "bytes_streamed", int(progress.get("bytes_read", 0)))
            if job.started_at and job.ended_at:
                pipe.hincrbyfloat(metrics, "scan_seconds", (job.ended_at - job.started_at).total_seconds())
            pipe.execute()
    else:
        store.finish(job.id, "failed", result.get("error"))
        connection.hincrby(store.keys.metrics(), "scans_failed", 1)


def scan_failed(job: Job, connection: Redis, exc_type: type, exc_value: BaseException, *args: Any) -> None:
    """Record a failure once no retry is left (transient errors exhausted, or the worker died every time)."""
    if job.retries_left:
        return
    store = ScanStore(connection, get_settings())
    error = job.get_meta(refresh=True).get(ERROR_META_KEY)
    if exc_type.__name__ == "AbandonedJobError":
        error = {"code": "worker_lost", "message": "the worker running this scan died on every attempt"}
    if error is None:
        error = {"code": "internal_error", "message": f"{exc_type.__name__}: {json.dumps(str(exc_value))[:300]}"}
    store.finish(job.id, "failed", error)
    connection.hincrby(store.keys.metrics(), "scans_failed", 1)
