"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from rq import Worker

from service.deps import RedisDep, SettingsDep
from service.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(redis: RedisDep, settings: SettingsDep) -> Health | JSONResponse:
    """Redis answers and at least one worker listens on the scans queue; else 503 with the reason."""
    try:
        redis.ping()
        workers = [w for w in Worker.all(connection=redis) if settings.FLAGSCAN_QUEUE in w.queue_names()]
    except RedisError as err:
        body = Health(status="unavailable", reason=f"redis unreachable: {type(err).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    if not workers:
        body = Health(status="unavailable", reason="no worker is listening on the queue", workers=0)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", workers=len(workers))


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
