"""The result store: scan records, compressed reports, the in-flight index and revision cache, all in Redis."""

from __future__ import annotations

import gzip
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from service.errors import ScanNotFoundError
from service.keys import Keys
from service.schemas import ErrorBody, Scan, ScanLinks, ScanProgress, ScanStatus
from workers.jobs import PROGRESS_META_KEY
from workers.plots import PLOT_NAMES
from workers.report import ScanOptions
from workers.settings import Settings

FINAL_STATUSES = ("succeeded", "failed", "canceled")

ENQUEUE_GRACE_S = 30.0
"""A scan record without an RQ job is only declared lost after this long: submission writes the record and
claims the in-flight slot before it enqueues."""

_RQ_STATUS: dict[JobStatus, ScanStatus] = {
    JobStatus.QUEUED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.SCHEDULED: "queued",
    JobStatus.CREATED: "queued",
    JobStatus.STARTED: "running",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "canceled",
    JobStatus.CANCELED: "canceled",
}


_FINISH_IF_NOT_FINAL = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == false or status == 'succeeded' or status == 'failed' or status == 'canceled' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
"""Set a scan's final fields atomically, only while it has no final status yet."""

_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Compare-and-delete: free an in-flight slot only for the scan that holds it."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


class ScanStore:
    """Reads and writes scan state. One instance per process; every key comes from `Keys`."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.FLAGSCAN_KEY_PREFIX)
        self.ttl = settings.FLAGSCAN_REPORT_TTL_S
        self._finish_script = redis.register_script(_FINISH_IF_NOT_FINAL)
        self._release_script = redis.register_script(_DELETE_IF_EQUAL)

    # 1. Records.

    def create(self, scan_id: str, fields: dict[str, str]) -> None:
        """Write a new scan record (status ``queued``) and add it to the listing."""
        key = self.keys.scan(scan_id)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={**fields, "id": scan_id, "status": "queued", "created_at": _now()})
            pipe.expire(key, self.ttl)
            pipe.zadd(self.keys.scans(), {scan_id: time.time()})
            pipe.zremrangebyscore(self.keys.scans(), 0, time.time() - self.ttl)
            pipe.execute()

    def discard(self, scan_id: str) -> None:
        """Remove a record that lost the race to an identical scan."""
        self.redis.delete(self.keys.scan(scan_id))
        self.redis.zrem(self.keys.scans(), scan_id)

    def record(self, scan_id: str) -> dict[str, str]:
        """The raw record, or `ScanNotFoundError`."""
        raw = self.redis.hgetall(self.keys.scan(scan_id))
        if not raw:
            raise ScanNotFoundError(scan_id)
        return _decode(raw)  # type: ignore[arg-type]

    def finish(self, scan_id: str, status: ScanStatus, error: dict[str, str] | None = None) -> bool:
        """Record a final status (and typed error) unless the scan already has one; free its in-flight slot.

        Returns:
            Whether this call set the status (a scan canceled while its job finished stays canceled).
        """
        record = self.record(scan_id)
        fields = ["status", status, "ended_at", _now()]
        if error is not None:
            fields += ["error", json.dumps(error)]
        applied = bool(self._finish_script(keys=[self.keys.scan(scan_id)], args=[self.ttl, *fields]))
        self.release(record["cache_key"], scan_id)
        return applied

    def release(self, cache_key: str, scan_id: str) -> None:
        """Free the in-flight slot of ``cache_key`` if (and only if) ``scan_id`` still holds it."""
        self._release_script(keys=[self.keys.inflight(cache_key)], args=[scan_id])

    # 2. Reports.

    def save_report(self, scan_id: str, report_gz: bytes) -> None:
        """Store the compressed report under its cache key; index it only if the scan becomes ``succeeded``."""
        record = self.record(scan_id)
        cache_key = record["cache_key"]
        self.redis.set(self.keys.report(cache_key), report_gz, ex=self.ttl)
        if not self.finish(scan_id, "succeeded"):
            return  # canceled (or failed) meanwhile: the report stays unreferenced and expires
        with self.redis.pipeline() as pipe:
            pipe.set(self.keys.report_scan(cache_key), scan_id, ex=self.ttl)
            if record.get("private") != "1" and record.get("default_options") == "1":
                pipe.set(self.keys.latest(record["model_id"], record["commit_sha"]), cache_key, ex=self.ttl)
            pipe.execute()

    def report_gz(self, cache_key: str) -> bytes | None:
        """The compressed report JSON, if cached."""
        return self.redis.get(self.keys.report(cache_key))  # type: ignore[return-value]

    def report_json(self, cache_key: str) -> dict[str, Any] | None:
        """The report as a dict, if cached."""
        blob = self.report_gz(cache_key)
        return None if blob is None else json.loads(gzip.decompress(blob))

    def scan_for_report(self, cache_key: str) -> str | None:
        """The scan id that produced a cached report."""
        value = self.redis.get(self.keys.report_scan(cache_key))
        return None if value is None else value.decode()  # type: ignore[union-attr]

    def latest_cache_key(self, model_id: str, commit_sha: str) -> str | None:
        """Cache key of the latest default-options report of a public model at a commit."""
        value = self.redis.get(self.keys.latest(model_id, commit_sha))
        return None if value is None else value.decode()  # type: ignore[union-attr]

    # 3. Views.

    def view(self, scan_id: str, base_url: str = "") -> Scan:
        """The scan's current state, merging the record with its RQ job (status and progress)."""
        record = self.record(scan_id)
        status: ScanStatus = record["status"]  # type: ignore[assignment]
        progress = ScanProgress()
        error = json.loads(record["error"]) if record.get("error") else None
        started_at = None
        try:
            job = Job.fetch(scan_id, connection=self.redis)
        except NoSuchJobError:
            job = None
        if job is not None:
            progress = ScanProgress(**job.get_meta(refresh=False).get(PROGRESS_META_KEY, {}))
            started_at = job.started_at.replace(tzinfo=UTC) if job.started_at else None
            if status not in FINAL_STATUSES:
                rq_status = job.get_status()
                mapped = _RQ_STATUS.get(rq_status) if rq_status is not None else None
                # A failed job with retries left is about to be re-queued: still queued from the user's view.
                if mapped == "failed" and job.retries_left:
                    mapped = "queued"
                status = mapped or status
                if status == "failed" and error is None:
                    error = {"code": "scan_failed", "message": "the scan failed; see worker logs"}
        elif status not in FINAL_STATUSES:
            age_s = (datetime.now(UTC) - datetime.fromisoformat(record["created_at"])).total_seconds()
            if age_s > ENQUEUE_GRACE_S:  # younger records may be between claiming their slot and enqueueing
                status, error = "failed", {"code": "job_lost", "message": "the job disappeared from the queue"}
        prefix = f"{base_url}/v1/scans/{scan_id}"
        return Scan(
            id=scan_id,
            status=status,
            model_id=record["model_id"],
            revision=record.get("revision") or None,
            commit_sha=record["commit_sha"],
            options=ScanOptions.model_validate_json(record["options"]),
            created_at=datetime.fromisoformat(record["created_at"]),
            started_at=started_at,
            ended_at=datetime.fromisoformat(record["ended_at"]) if record.get("ended_at") else None,
            progress=progress,
            error=ErrorBody(**error) if error else None,
            links=ScanLinks(
                self=prefix,
                report=f"{prefix}/report",
                card=f"{prefix}/card",
                plots=[f"{prefix}/plots/{name}" for name in PLOT_NAMES],
            ),
        )

    def list_page(self, cursor: float | None, count: int) -> list[tuple[str, float]]:
        """Up to ``count`` (scan id, creation time) pairs, newest first, created before ``cursor``."""
        top = f"({cursor}" if cursor is not None else "+inf"
        rows = self.redis.zrevrangebyscore(self.keys.scans(), top, "-inf", start=0, num=count, withscores=True)
        return [(member.decode(), float(score)) for member, score in rows]  # type: ignore[union-attr]


@dataclass(frozen=True)
class _HotReport:
    cache_key: str
    private: bool
    owner: str
    blob: bytes | None
    expires_at: float


class ReportReader:
    """The hot path of ``GET …/report``: async Redis reads plus a small in-process cache, no thread-pool hop.

    A succeeded scan's record and its report are immutable (the report is addressed by commit sha, options and
    engine version), so both are kept in memory for ``HOT_TTL_S`` seconds, up to ``HOT_MAX_BYTES``.
    """

    HOT_TTL_S = 60.0
    """How long a report is served from memory before Redis is asked again (bounds staleness after expiry)."""
    HOT_MAX_BYTES = 64 * 1024 * 1024
    """Memory cap of the in-process cache (compressed reports); least recently used go first."""

    def __init__(self, redis: AsyncRedis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self._hot: OrderedDict[str, _HotReport] = OrderedDict()
        self._identity: dict[str, bytes] = {}
        self._hot_bytes = 0

    def _forget(self, entry: _HotReport) -> None:
        self._hot_bytes -= len(entry.blob or b"") + len(self._identity.pop(entry.cache_key, b""))

    def _evict(self) -> None:
        while self._hot_bytes > self.HOT_MAX_BYTES and self._hot:
            self._forget(self._hot.popitem(last=False)[1])

    def _remember(self, scan_id: str, entry: _HotReport) -> None:
        self._hot[scan_id] = entry
        self._hot_bytes += len(entry.blob or b"")
        self._evict()

    async def _load(self, scan_id: str) -> _HotReport | str:
        status, key, private, owner = await self.redis.hmget(
            self.keys.scan(scan_id), ["status", "cache_key", "private", "owner"]
        )
        if status is None:
            raise ScanNotFoundError(scan_id)
        if status != b"succeeded":
            return status.decode()
        blob = await self.redis.get(self.keys.report(key.decode()))
        return _HotReport(key.decode(), private == b"1", owner.decode(), blob, time.monotonic() + self.HOT_TTL_S)

    def identity(self, cache_key: str, blob: bytes) -> bytes:
        """The decompressed report, decompressed once per process while it stays hot."""
        body = self._identity.get(cache_key)
        if body is None:
            body = gzip.decompress(blob)
            self._identity[cache_key] = body
            self._hot_bytes += len(body)
            self._evict()
        return body

    async def succeeded(self, scan_id: str, owner: str) -> tuple[str, bytes | None, bool] | str:
        """``(cache_key, report_gz, private)`` for a visible succeeded scan, else the scan's recorded status.

        Raises:
            ScanNotFoundError: no such scan, or a private one of another API key.
        """
        entry = self._hot.get(scan_id)
        if entry is not None and entry.expires_at >= time.monotonic():
            self._hot.move_to_end(scan_id)
        else:
            if entry is not None:
                self._forget(self._hot.pop(scan_id))
            loaded = await self._load(scan_id)
            if isinstance(loaded, str):
                return loaded  # not succeeded (yet): nothing to cache
            entry = loaded
            self._remember(scan_id, entry)
        if entry.private and entry.owner != owner:
            raise ScanNotFoundError(scan_id)
        return entry.cache_key, entry.blob, entry.private
