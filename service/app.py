"""The FastAPI application: routers, error translation, body limit and request metrics. Never imports torch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from redis import Redis

from service import errors
from service.errors import error_response
from service.keys import Keys
from service.metrics import build_registry
from service.routes import models, ops, scans
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
    registry, requests = build_registry(redis, settings.FLAGSCAN_QUEUE, Keys(settings.FLAGSCAN_KEY_PREFIX))
    app.state.metrics_registry = registry
    errors.install(app)
    for router in (scans.router, models.router, ops.router):
        app.include_router(router)

    @app.middleware("http")
    async def limit_and_count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.FLAGSCAN_MAX_BODY_BYTES):
            response: Response = error_response(
                413, "body_too_large", f"request body over {settings.FLAGSCAN_MAX_BODY_BYTES} bytes"
            )
        elif length is None and request.headers.get("transfer-encoding", "").lower() == "chunked":
            response = error_response(411, "length_required", "send a Content-Length header")
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        requests.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).inc()
        return response

    return app
