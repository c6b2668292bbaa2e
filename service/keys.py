"""Every Redis key flagscan writes, built from one prefix, each with its documented lifetime.

RQ's own keys (``rq:job:<scan id>``, registries) follow RQ's conventions; the scan id is the RQ job id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key builders under ``prefix`` (``FLAGSCAN_KEY_PREFIX``, default ``flagscan:``)."""

    prefix: str

    def scan(self, scan_id: str) -> str:
        """Hash: the scan record (model, revision, sha, options, cache key, owner, status, error, timestamps).
        Lifetime: ``FLAGSCAN_REPORT_TTL_S`` from its last update."""
        return f"{self.prefix}scan:{scan_id}"

    def scans(self) -> str:
        """Sorted set of scan ids scored by creation time, for listing. Lifetime: kept; members older than the
        report TTL are trimmed on every insert."""
        return f"{self.prefix}scans"

    def inflight(self, cache_key: str) -> str:
        """String: the scan id computing ``cache_key``; ``SET NX`` makes concurrent identical requests join one
        scan. Lifetime: the job timeout plus retries; deleted when the scan ends."""
        return f"{self.prefix}inflight:{cache_key}"

    def report(self, cache_key: str) -> str:
        """Bytes: the gzip-compressed JSON report for repo@sha + options hash + engine version.
        Lifetime: ``FLAGSCAN_REPORT_TTL_S``."""
        return f"{self.prefix}report:{cache_key}"

    def report_scan(self, cache_key: str) -> str:
        """String: the scan id that produced ``report(cache_key)``. Lifetime: as the report."""
        return f"{self.prefix}report-scan:{cache_key}"

    def plot(self, cache_key: str, name: str) -> str:
        """Bytes: a rendered PNG of the report. Lifetime: as the report."""
        return f"{self.prefix}plot:{cache_key}:{name}"

    def revision(self, model_id: str, revision: str) -> str:
        """String: the commit sha a branch or tag resolved to. Lifetime: ``FLAGSCAN_REVISION_TTL_S`` (branches move)."""
        return f"{self.prefix}revision:{model_id}@{revision}"

    def latest(self, model_id: str, commit_sha: str) -> str:
        """String: cache key of the latest report of a model at a commit (default options only, public models).
        Lifetime: as the report."""
        return f"{self.prefix}latest:{model_id}@{commit_sha}"

    def metrics(self) -> str:
        """Hash: worker-side counters (scan seconds and count, bytes streamed). Lifetime: kept (monotonic counters)."""
        return f"{self.prefix}metrics"
