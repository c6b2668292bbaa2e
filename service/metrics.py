"""Prometheus metrics: request counts in the API, queue depth and worker-side counters read from Redis."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from service.keys import Keys


class QueueCollector(Collector):
    """Reads queue depth, running scans and worker counters from Redis at scrape time."""

    def __init__(self, redis: Redis, queue_name: str, keys: Keys) -> None:
        self.redis, self.queue_name, self.keys = redis, queue_name, keys

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Yield the metric families."""
        queue = Queue(self.queue_name, connection=self.redis)
        depth = GaugeMetricFamily("flagscan_queue_depth", "Scans waiting in the queue.")
        depth.add_metric([], len(queue))
        yield depth
        by_status = GaugeMetricFamily("flagscan_scans", "Scans by status.", labels=["status"])
        by_status.add_metric(["queued"], len(queue))
        by_status.add_metric(["running"], StartedJobRegistry(queue=queue).count)
        by_status.add_metric(["failed_in_queue"], FailedJobRegistry(queue=queue).count)
        yield by_status
        counters = {k.decode(): float(v) for k, v in self.redis.hgetall(self.keys.metrics()).items()}  # type: ignore[union-attr]
        finished = CounterMetricFamily("flagscan_scans_finished", "Scans that ended, by outcome.", labels=["outcome"])
        for outcome in ("succeeded", "failed", "canceled"):
            finished.add_metric([outcome], counters.get(f"scans_{outcome}", 0.0))
        yield finished
        seconds = CounterMetricFamily("flagscan_scan_seconds", "Wall seconds spent in successful scans.")
        seconds.add_metric([], counters.get("scan_seconds", 0.0))
        yield seconds
        streamed = CounterMetricFamily("flagscan_bytes_streamed", "Bytes of weights streamed by successful scans.")
        streamed.add_metric([], counters.get("bytes_streamed", 0.0))
        yield streamed


def build_registry(redis: Redis, queue_name: str, keys: Keys) -> tuple[CollectorRegistry, Counter]:
    """A registry with the queue collector and the request counter."""
    registry = CollectorRegistry()
    registry.register(QueueCollector(redis, queue_name, keys))
    requests = Counter(
        "flagscan_http_requests", "HTTP requests by route and status.", ["method", "route", "status"], registry=registry
    )
    return registry, requests
