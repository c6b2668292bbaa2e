"""Service subcommands of ``flagscan``: ``worker``, ``serve`` and ``openapi``."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from workers.settings import get_settings


def cmd_worker(args: argparse.Namespace) -> int:
    """Run an RQ worker on the scans queue (it picks CUDA when present, per FLAGSCAN_DEVICE)."""
    from redis import Redis
    from rq import Worker

    settings = get_settings()
    if not settings.FLAGSCAN_REDIS_URL:
        raise SystemExit("flagscan worker needs FLAGSCAN_REDIS_URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    worker = Worker(
        [settings.FLAGSCAN_QUEUE],
        connection=Redis.from_url(settings.FLAGSCAN_REDIS_URL),
        job_monitoring_interval=settings.FLAGSCAN_JOB_HEARTBEAT_S,
        maintenance_interval=settings.FLAGSCAN_MAINTENANCE_S,
    )
    worker.work(burst=args.burst, logging_level="INFO", with_scheduler=True)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API; without FLAGSCAN_REDIS_URL, also run an embedded Redis and worker process(es)."""
    import uvicorn
    from redis import Redis

    from service.app import create_app
    from service.embedded import embedded_redis, worker_processes

    settings = get_settings()
    host, port = args.host or settings.FLAGSCAN_HOST, args.port or settings.FLAGSCAN_PORT
    if settings.FLAGSCAN_REDIS_URL:
        uvicorn.run(create_app(settings), host=host, port=port)
        return 0
    data_dir = Path(args.data_dir or settings.FLAGSCAN_DATA_DIR)
    with embedded_redis(data_dir) as url:
        settings = settings.model_copy(update={"FLAGSCAN_REDIS_URL": url})
        print(f"flagscan: embedded Redis at {url} (data in {data_dir}); API on http://{host}:{port}", flush=True)
        with worker_processes(settings.FLAGSCAN_WORKERS, url, settings):
            uvicorn.run(create_app(settings, Redis.from_url(url)), host=host, port=port)
    return 0


def openapi_document() -> dict[str, object]:
    """The OpenAPI document of the app (no Redis connection is made)."""
    from redis import Redis

    from service.app import create_app

    return create_app(redis=Redis.from_url("redis://127.0.0.1:6379/0")).openapi()


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document."""
    Path(args.output).write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the service subcommands."""
    worker = sub.add_parser("worker", help="run a scan worker (needs FLAGSCAN_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=cmd_worker)
    serve = sub.add_parser("serve", help="serve the API (embedded Redis and workers unless FLAGSCAN_REDIS_URL)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--data-dir", default=None, help="embedded Redis data dir (default FLAGSCAN_DATA_DIR)")
    serve.set_defaults(func=cmd_serve)
    spec = sub.add_parser("openapi", help="write the OpenAPI document")
    spec.add_argument("--output", default="openapi/openapi.json")
    spec.set_defaults(func=cmd_openapi)
