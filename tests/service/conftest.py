"""Service fixtures: a real Redis (DB 9, flushed around each test), settings, an in-process app, real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from redis import Redis

from service.app import create_app
from tests.hub_server import HubServer
from workers.settings import Settings

TEST_REDIS_URL = "redis://127.0.0.1:6379/9"
TEST_PREFIX = "flagscan-test:"


@pytest.fixture
def redis() -> Iterator[Redis]:
    """The real Redis on 127.0.0.1:6379, DB 9, empty before and after the test."""
    connection = Redis.from_url(TEST_REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def service_env(hub: HubServer) -> dict[str, str]:
    """Environment for the API and worker processes of a test."""
    return {
        "FLAGSCAN_REDIS_URL": TEST_REDIS_URL,
        "FLAGSCAN_KEY_PREFIX": TEST_PREFIX,
        "HF_ENDPOINT": hub.endpoint,
        "FLAGSCAN_TORCH_THREADS": "1",
        "FLAGSCAN_JOB_HEARTBEAT_S": "1",
        "FLAGSCAN_MAINTENANCE_S": "2",
        "FLAGSCAN_HUB_MAX_RETRIES": "1",
        "FLAGSCAN_REVISION_TTL_S": "2",
    }


@pytest.fixture
def settings(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings read from the test environment (also exported, for callbacks running in this process)."""
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    from workers.settings import get_settings

    get_settings.cache_clear()
    yield Settings()  # type: ignore[misc]
    get_settings.cache_clear()


@pytest.fixture
def client(settings: Settings, redis: Redis) -> Iterator[TestClient]:
    """The app in-process, on the test Redis."""
    with TestClient(create_app(settings, redis)) as test_client:
        yield test_client


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every 0.2 s until true, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def spawn(service_env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``flagscan`` subprocesses (own process groups, so a group can be SIGKILLed); all stopped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args],
            env={**os.environ, **service_env, **(env or {})},
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live_api(service_env: dict[str, str], redis: Redis) -> Iterator[str]:
    """The API in a real uvicorn process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "service.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, **service_env},
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, "uvicorn to answer /healthz")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
