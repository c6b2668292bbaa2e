"""The FastAPI application: routers, error translation, body limit and request metrics. Never imports torch."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import errors
from service.errors import error_response
from service.keys import Keys
from service.metrics import build_registry
from service.routes import models, ops, scans
from service.store import ReportReader
from workers.report import ENGINE_VERSION
from workers.settings import Settings, get_settings


def create_app(settings: Settings | None = None, redis: Redis | None = None) -> FastAPI:
    """Build the app; ``redis`` defaults to ``FLAGSCAN_REDIS_URL``."""
    settings = settings or get_settings()
    if redis is None:
        if not settings.FLAGSCAN_REDIS_URL:
            raise RuntimeError("FLAGSCAN_REDIS_URL is not set (use `flagscan serve` for the embedded default)")
        redis = Redis.from_url(settings.FLAGSCAN_REDIS_URL)
    app = FastAPI(
        title="flagscan",
        version=ENGINE_VERSION,
        summary="Layerwise alignment scans of Hugging Face Hub models (arXiv 2605.09861 diagnostics).",
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.report_reader = ReportReader(_async_twin(redis), Keys(settings.FLAGSCAN_KEY_PREFIX))
    registry, requests = build_registry(redis, settings.FLAGSCAN_QUEUE, Keys(settings.FLAGSCAN_KEY_PREFIX))
    app.state.metrics_registry = registry
    errors.install(app)
    for router in (scans.router, models.router, ops.router):
        app.include_router(router)

    app.add_middleware(RequestGuard, max_body_bytes=settings.FLAGSCAN_MAX_BODY_BYTES, requests=requests)
    return app


def _async_twin(redis: Redis) -> AsyncRedis:
    """An asyncio client to the same server as ``redis`` (TCP or unix socket)."""
    kwargs = redis.connection_pool.connection_kwargs
    if "path" in kwargs:
        return AsyncRedis(unix_socket_path=kwargs["path"], db=kwargs.get("db", 0), password=kwargs.get("password"))
    return AsyncRedis(
        host=kwargs.get("host", "127.0.0.1"),
        port=kwargs.get("port", 6379),
        db=kwargs.get("db", 0),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        ssl=redis.connection_pool.connection_class.__name__ == "SSLConnection",
    )


class RequestGuard:
    """Pure ASGI middleware: refuse bodies over the limit (413) before reading them, and count requests.

    (Starlette's ``@app.middleware("http")`` wraps every response in a streaming shim that costs more than
    serving a cached report; this stays out of the body path.)
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, requests: Counter) -> None:
        self.app, self.max_body_bytes, self.requests = app, max_body_bytes, requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                response = error_response(413, "body_too_large", f"request body over {self.max_body_bytes} bytes")
                await response(scope, receive, send_counted)
            elif length is None and headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                response = error_response(411, "length_required", "send a Content-Length header")
                await response(scope, receive, send_counted)
            else:
                await self.app(scope, receive, send_counted)
        finally:
            route = scope.get("route")
            self.requests.labels(scope["method"], getattr(route, "path", "unmatched"), str(status)).inc()
