"""Run independent training jobs on the 2 CPU cores, one torch thread per process."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from experiments._training import set_threads

__all__ = ["DEFAULT_WORKERS", "run_jobs"]

DEFAULT_WORKERS = 2
"""Worker processes: one per core of the 2-core machines the experiments are sized for."""

T = TypeVar("T")


def _call(job: tuple[Callable[..., T], Mapping[str, object]]) -> T:
    fn, kwargs = job
    return fn(**kwargs)


def run_jobs(fn: Callable[..., T], jobs: Sequence[Mapping[str, object]], workers: int = DEFAULT_WORKERS) -> list[T]:
    """``[fn(**job) for job in jobs]``, in ``workers`` spawned processes when ``workers > 1``.

    ``fn`` must be a module-level function (it is pickled by name). Results keep the order of ``jobs``.
    """
    set_threads()
    if workers <= 1 or len(jobs) <= 1:
        return [fn(**job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=set_threads) as pool:
        return list(pool.map(_call, [(fn, job) for job in jobs]))
