"""FastAPI dependencies as ``Annotated`` aliases: settings, Redis, the store, the submitter and the caller's key.

They are ``async`` because they never block: FastAPI would otherwise hop to its thread pool for each one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from redis import Redis
from rq import Queue

from service.errors import ApiError
from service.store import ReportReader, ScanStore
from service.submission import Submitter
from workers.settings import Settings


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_redis(request: Request) -> Redis:
    """The app's Redis connection pool."""
    return request.app.state.redis  # type: ignore[no-any-return]


async def get_report_reader(request: Request) -> ReportReader:
    """Async reader for the cached-report hot path."""
    return request.app.state.report_reader  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ReportReaderDep = Annotated[ReportReader, Depends(get_report_reader)]
RedisDep = Annotated[Redis, Depends(get_redis)]


async def get_store(redis: RedisDep, settings: SettingsDep) -> ScanStore:
    """The scan store."""
    return ScanStore(redis, settings)


StoreDep = Annotated[ScanStore, Depends(get_store)]


async def get_queue(redis: RedisDep, settings: SettingsDep) -> Queue:
    """The RQ queue scans go to."""
    return Queue(settings.FLAGSCAN_QUEUE, connection=redis)


QueueDep = Annotated[Queue, Depends(get_queue)]


async def get_submitter(redis: RedisDep, store: StoreDep, queue: QueueDep, settings: SettingsDep) -> Submitter:
    """The submission service."""
    return Submitter(redis, store, queue, settings)


SubmitterDep = Annotated[Submitter, Depends(get_submitter)]


async def caller(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """An opaque owner id: a hash of the caller's API key, or ``anonymous`` when keys are not configured."""
    presented = x_api_key or (authorization[7:] if authorization and authorization.startswith("Bearer ") else None)
    if settings.FLAGSCAN_API_KEYS is None:
        return "anonymous"
    keys = [k.strip() for k in settings.FLAGSCAN_API_KEYS.get_secret_value().split(",") if k.strip()]
    given = None if presented is None else presented.encode("utf-8", "surrogateescape")
    if given is None or not any(hmac.compare_digest(given, k.encode()) for k in keys):
        raise ApiError(401, "unauthorized", "a valid API key is required (Authorization: Bearer <key>)")
    return hashlib.sha256(given).hexdigest()[:16]


CallerDep = Annotated[str, Depends(caller)]
