"""Run a callable in a fresh process and report its wall time and peak extra resident memory."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize()


def _child(setup: Callable[[], Any], work: Callable[[Any], Any], queue: Any) -> None:
    inputs = setup()
    before = _current_rss_bytes()
    start = time.perf_counter()
    result = work(inputs)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    queue.put((seconds, max(peak - before, 0), result))


def measure(setup: Callable[[], Any], work: Callable[[Any], Any]) -> tuple[float, int, Any]:
    """Time ``work(setup())`` in a spawned process: (seconds, peak bytes above the inputs, result).

    A separate process gives each measurement its own peak-RSS high-water mark.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(setup, work, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out
