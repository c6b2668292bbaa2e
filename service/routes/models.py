"""/v1/models: the latest cached report of a model."""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from service.deps import StoreDep, SubmitterDep
from service.errors import ApiError
from service.schemas import ErrorBody
from workers.model_ref import validate_model_id, validate_revision

router = APIRouter(prefix="/v1/models", tags=["models"])

NamePart = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]


@router.get(
    "/{org}/{name}/report",
    responses={200: {"content": {"application/json": {}}}, **{c: {"model": ErrorBody} for c in (400, 404, 503)}},
)
def latest_report(
    org: NamePart,
    name: NamePart,
    store: StoreDep,
    submitter: SubmitterDep,
    revision: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The latest cached default-options report of a public model at ``revision`` (default main)."""
    model_id = validate_model_id(f"{org}/{name}")
    resolved = submitter.resolve(model_id, validate_revision(revision))
    key = store.latest_cache_key(model_id, resolved.commit_sha)
    blob = None if key is None else store.report_gz(key)
    if blob is None:
        raise ApiError(
            404, "report_not_found", f"no cached report for {model_id}@{resolved.commit_sha[:12]}; POST /v1/scans"
        )
    return Response(gzip.decompress(blob), media_type="application/json", headers={"ETag": f'"{key}"'})
