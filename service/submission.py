"""Turn a POST into a scan: validate, resolve the revision to a sha, then serve the cache, join, or enqueue."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from redis import Redis
from rq import Callback, Queue, Retry

from service.errors import ApiError, ScanNotFoundError
from service.schemas import Scan, ScanRequest
from service.store import ScanStore
from workers.errors import TooLargeError
from workers.hub_api import snapshot
from workers.model_ref import validate_model_id, validate_revision
from workers.report import ENGINE_VERSION, ScanOptions
from workers.settings import Settings

JOB_PATH = "workers.jobs.run_scan"
"""Dotted path of the job: the API process never imports the worker code (or torch)."""

RETRY_INTERVALS_S = [5, 30, 120]
"""Backoff between retries of a transient failure or an abandoned job."""


@dataclass(frozen=True)
class Submitted:
    """The scan a POST resolved to; ``cached`` means the report already exists (HTTP 200)."""

    scan: Scan
    cached: bool


@dataclass(frozen=True)
class Resolved:
    """A revision pinned to a commit, with what the Hub said about the repo."""

    commit_sha: str
    private: bool
    weight_bytes: int | None


def cache_key(model_id: str, commit_sha: str, options: ScanOptions, owner: str) -> str:
    """Key of a report: repo@sha + options hash + engine version (+ owner for private models)."""
    material = f"{model_id}@{commit_sha}|{options.cache_hash()}|{ENGINE_VERSION}|{owner}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def job_timeout_s(settings: Settings, weight_bytes: int | None) -> int:
    """Job timeout that scales with the checkpoint's size (unknown size: the base plus 10 GB worth)."""
    gigabytes = 10.0 if weight_bytes is None else weight_bytes / 1e9
    return int(settings.FLAGSCAN_JOB_TIMEOUT_BASE_S + gigabytes * settings.FLAGSCAN_JOB_TIMEOUT_S_PER_GB)


class Submitter:
    """Resolves, deduplicates and enqueues scans."""

    def __init__(self, redis: Redis, store: ScanStore, queue: Queue, settings: Settings) -> None:
        self.redis, self.store, self.queue, self.settings = redis, store, queue, settings

    def resolve(self, model_id: str, revision: str | None) -> Resolved:
        """Revision → commit sha, cached for ``FLAGSCAN_REVISION_TTL_S`` because branches move."""
        key = self.store.keys.revision(model_id, revision or "main")
        cached = self.redis.get(key)
        if cached is not None:
            return Resolved(**json.loads(cached))
        snap = snapshot(model_id, revision, self.settings.hub())
        resolved = Resolved(snap.commit_sha, snap.private, snap.weight_bytes)
        self.redis.set(key, json.dumps(resolved.__dict__), ex=self.settings.FLAGSCAN_REVISION_TTL_S)
        return resolved

    def _join(self, scan_id: str, cache_key: str, base_url: str) -> Scan | None:
        """The in-flight scan to join, or ``None`` (after freeing its slot) when it is dead or already ended.

        A work horse killed on its last attempt (out of memory, say) ends its job without any callback; the
        record would otherwise stay unfinished and every identical request would join a scan that never ends.
        """
        try:
            scan = self.store.view(scan_id, base_url)
        except ScanNotFoundError:
            self.store.release(cache_key, scan_id)
            return None
        if scan.status in ("queued", "running"):
            return scan
        error = scan.error.model_dump() if scan.error else {"code": "worker_lost", "message": "the scan's job ended"}
        self.store.finish(scan_id, "failed", error)  # no-op if already final; frees the slot
        return None

    def submit(self, request: ScanRequest, owner: str, base_url: str = "", attempt: int = 0) -> Submitted:
        """Serve the cached report, join an identical scan in flight, or enqueue a new one (exactly one job)."""
        model_id = validate_model_id(request.model_id)
        revision = validate_revision(request.revision)
        resolved = self.resolve(model_id, revision)
        if resolved.weight_bytes is not None and resolved.weight_bytes > self.settings.FLAGSCAN_MAX_MODEL_BYTES:
            raise TooLargeError(
                f"{model_id}@{resolved.commit_sha}: {resolved.weight_bytes} bytes of weights, over the "
                f"{self.settings.FLAGSCAN_MAX_MODEL_BYTES}-byte limit"
            )
        options = request.options
        key = cache_key(model_id, resolved.commit_sha, options, owner if resolved.private else "")
        # 1. Cached report.
        done = self.store.scan_for_report(key)
        if done is not None and self.store.report_gz(key) is not None:
            return Submitted(self.store.view(done, base_url), cached=True)
        # 2. Claim the in-flight slot; the loser of a race joins the winner, unless the winner is dead.
        scan_id = uuid.uuid4().hex
        self.store.create(
            scan_id,
            {
                "model_id": model_id,
                "revision": revision or "",
                "commit_sha": resolved.commit_sha,
                "options": options.model_dump_json(),
                "default_options": "1" if options == ScanOptions() else "0",
                "cache_key": key,
                "owner": owner,
                "private": "1" if resolved.private else "0",
            },
        )
        inflight = self.store.keys.inflight(key)
        # The slot lives as long as a report (queue waits are unbounded); every ending frees it explicitly.
        if not self.redis.set(inflight, scan_id, nx=True, ex=self.settings.FLAGSCAN_REPORT_TTL_S):
            self.store.discard(scan_id)
            existing = self.redis.get(inflight)
            if existing is not None:
                joined = self._join(existing.decode(), key, base_url)  # type: ignore[union-attr]
                if joined is not None:
                    return Submitted(joined, cached=False)
            if attempt >= 2:
                raise ApiError(503, "busy", "an identical scan is starting or ending; retry in a moment")
            return self.submit(request, owner, base_url, attempt + 1)
        # A scan that finished between the cache check and the claim: serve it instead of scanning again.
        if self.store.report_gz(key) is not None and (done := self.store.scan_for_report(key)) is not None:
            self.store.release(key, scan_id)
            self.store.discard(scan_id)
            return Submitted(self.store.view(done, base_url), cached=True)
        timeout = job_timeout_s(self.settings, resolved.weight_bytes)
        # 3. Enqueue by dotted path.
        retries = self.settings.FLAGSCAN_JOB_RETRIES
        self.queue.enqueue_call(
            JOB_PATH,
            kwargs={
                "model_id": model_id,
                "commit_sha": resolved.commit_sha,
                "options": options.model_dump(mode="json"),
                "revision": revision,
            },
            job_id=scan_id,
            timeout=timeout,
            result_ttl=600,
            failure_ttl=self.settings.FLAGSCAN_REPORT_TTL_S,
            retry=Retry(max=retries, interval=RETRY_INTERVALS_S[:retries] or 0) if retries else None,
            on_success=Callback("service.callbacks.scan_succeeded"),
            on_failure=Callback("service.callbacks.scan_failed"),
            description=f"scan {model_id}@{resolved.commit_sha[:12]}",
        )
        return Submitted(self.store.view(scan_id, base_url), cached=False)
