"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workers.report import ScanOptions

ScanStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]


class ScanRequest(BaseModel):
    """POST /v1/scans body."""

    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(max_length=200, examples=["sentence-transformers/all-MiniLM-L6-v2"])
    revision: str | None = Field(None, max_length=200, description="Branch, tag or commit; default main.")
    options: ScanOptions = Field(default_factory=ScanOptions)


class ErrorBody(BaseModel):
    """Every error response."""

    code: str
    message: str


class ScanProgress(BaseModel):
    """Layers and bytes done."""

    layers_done: int = 0
    layers_total: int = 0
    bytes_read: int = 0
    bytes_total: int = 0


class ScanLinks(BaseModel):
    """Where to go next."""

    self: str
    report: str
    card: str
    plots: list[str]


class Scan(BaseModel):
    """A scan's state."""

    id: str
    status: ScanStatus
    model_id: str
    revision: str | None
    commit_sha: str
    options: ScanOptions
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    progress: ScanProgress
    error: ErrorBody | None = None
    links: ScanLinks


class ScanList(BaseModel):
    """A page of scans, newest first; pass ``next_cursor`` back as ``cursor``."""

    data: list[Scan]
    next_cursor: str | None


class Health(BaseModel):
    """Liveness and readiness answers."""

    status: Literal["ok", "unavailable"]
    reason: str | None = None
    workers: int | None = None
