"""Weight sources: the Hub over HTTP range reads, or a local directory."""

from __future__ import annotations

from pathlib import Path

from workers.hub_api import HubSettings, resolve_commit
from workers.model_ref import validate_model_id, validate_revision
from workers.sources.base import TensorLocation, WeightSource
from workers.sources.hub import HubSource
from workers.sources.local import LocalSource

__all__ = ["HubSettings", "HubSource", "LocalSource", "TensorLocation", "WeightSource", "open_source", "resolve_commit"]


def open_source(model: str, revision: str | None = None, hub: HubSettings | None = None) -> WeightSource:
    """A local directory if ``model`` names one, else the Hub repo ``model`` at ``revision``."""
    if Path(model).is_dir():
        return LocalSource(model)
    return HubSource(validate_model_id(model), validate_revision(revision), hub)
