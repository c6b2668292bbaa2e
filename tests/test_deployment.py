"""The compose file and Dockerfile keep the deployment contract (no Docker engine here, so they are read, not run)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_has_persistent_redis_healthy_dependencies_and_gpu_workers() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "--appendonly" in compose["redis"]["command"] and compose["redis"]["healthcheck"]
    for service in ("api", "worker"):
        assert compose[service]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert compose[service]["environment"]["FLAGSCAN_REDIS_URL"].startswith("redis://redis:6379")
    devices = compose["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "ports" not in compose["worker"] and "container_name" not in compose["worker"]  # scalable


def test_api_image_installs_no_torch() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    api_stage = dockerfile.split("FROM base AS api")[1].split("FROM base AS worker")[0]
    instructions = [line for line in api_stage.splitlines() if not line.lstrip().startswith("#")]
    assert not any("torch" in line for line in instructions)
    assert "[worker]" in dockerfile.split("FROM base AS worker")[1]


def test_service_package_never_imports_torch() -> None:
    import subprocess
    import sys

    code = "import sys, service.app, service.cli, service.commands; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
