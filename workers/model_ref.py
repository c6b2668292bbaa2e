"""Validate Hub model ids and revisions before they reach a URL, a Redis key or a file path."""

from __future__ import annotations

import re

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from workers.errors import InvalidModelIdError, InvalidRevisionError

_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")


def validate_model_id(model_id: str) -> str:
    """Return ``model_id`` if it is a valid ``org/name`` (or legacy ``name``) Hub repo id.

    Raises:
        InvalidModelIdError: with the reason (huggingface_hub's own repo-id rules plus no traversal).
    """
    if not isinstance(model_id, str) or not model_id:
        raise InvalidModelIdError("model_id must be a non-empty string like 'org/name'")
    if model_id.count("/") > 1 or "\\" in model_id or any(part in ("", ".", "..") for part in model_id.split("/")):
        raise InvalidModelIdError(f"model_id {model_id!r} is not of the form 'org/name'")
    try:
        validate_repo_id(model_id)
    except HFValidationError as err:
        raise InvalidModelIdError(f"model_id {model_id!r} is invalid: {err}") from err
    return model_id


def validate_revision(revision: str | None) -> str | None:
    """Return ``revision`` if it is a plausible branch, tag or sha (or ``None`` for the default branch).

    Raises:
        InvalidRevisionError: for empty, traversing or oddly charactered names.
    """
    if revision is None:
        return None
    if (
        not isinstance(revision, str)
        or not _REVISION.fullmatch(revision)
        or ".." in revision
        or "//" in revision
        or revision.endswith(("/", ".lock", "."))
    ):
        raise InvalidRevisionError(f"revision {revision!r} is not a valid branch, tag or commit")
    return revision
