"""/v1/scans: submit, poll, fetch report/card/plots, list and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from service.deps import CallerDep, RedisDep, ReportReaderDep, StoreDep, SubmitterDep
from service.errors import ApiError, ScanNotFoundError
from service.schemas import ErrorBody, Scan, ScanList, ScanRequest, ScanStatus
from service.store import FINAL_STATUSES, ScanStore
from workers.card import model_card
from workers.plots import PlotName, render_plot
from workers.report import Report

router = APIRouter(prefix="/v1/scans", tags=["scans"])

ScanId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Scan id (32 hex characters).")]
LIST_EXAMINE_MAX = 1000
"""A filtered listing examines at most this many scans per request, then returns a cursor to continue."""
ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _visible_record(store: ScanStore, scan_id: str, owner: str) -> dict[str, str]:
    record = store.record(scan_id)
    if record.get("private") == "1" and record.get("owner") != owner:
        raise ScanNotFoundError(scan_id)
    return record


def _succeeded_cache_key(store: ScanStore, scan_id: str, owner: str, request: Request) -> str:
    record = _visible_record(store, scan_id, owner)
    if record["status"] != "succeeded":  # final statuses are on the record; only unfinished scans need RQ
        status = store.view(scan_id, _base(request)).status
        raise ApiError(409, "report_not_ready", f"scan {scan_id} is {status}")
    return record["cache_key"]


@router.post("", status_code=202, responses={200: {"model": Scan}, **ERRORS})
def create_scan(
    body: ScanRequest, submitter: SubmitterDep, owner: CallerDep, request: Request, response: Response
) -> Scan:
    """Submit a scan: 200 with the cached scan, or 202 with a new or joined one."""
    submitted = submitter.submit(body, owner, _base(request))
    response.headers["Location"] = submitted.scan.links.self
    if submitted.cached:
        response.status_code = 200
    return submitted.scan


@router.get("", responses=ERRORS)
def list_scans(
    store: StoreDep,
    owner: CallerDep,
    request: Request,
    model_id: Annotated[str | None, Query(max_length=200)] = None,
    status: ScanStatus | None = None,
    cursor: Annotated[float | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ScanList:
    """List scans, newest first, optionally filtered by model and status."""
    data: list[Scan] = []
    examined, position = 0, cursor
    while len(data) < limit and examined < LIST_EXAMINE_MAX:
        rows = store.list_page(position, limit)
        if not rows:
            break
        for scan_id, score in rows:
            examined, position = examined + 1, score
            try:
                record = _visible_record(store, scan_id, owner)
            except ScanNotFoundError:
                continue
            if model_id is not None and record["model_id"] != model_id:
                continue
            scan = store.view(scan_id, _base(request))
            if status is None or scan.status == status:
                data.append(scan)
                if len(data) == limit:
                    break
    # The cursor is the creation time of the last scan examined, so nothing past it is skipped.
    more = position is not None and bool(store.list_page(position, 1))
    return ScanList(data=data, next_cursor=repr(position) if more else None)


@router.get("/{scan_id}", responses=ERRORS)
def get_scan(scan_id: ScanId, store: StoreDep, owner: CallerDep, request: Request) -> Scan:
    """Status, progress and typed error of a scan."""
    _visible_record(store, scan_id, owner)
    return store.view(scan_id, _base(request))


@router.get(
    "/{scan_id}/report",
    responses={200: {"content": {"application/json": {}}}, 304: {"description": "Not modified"}, **ERRORS},
)
async def get_report(
    scan_id: ScanId,
    reader: ReportReaderDep,
    owner: CallerDep,
    accept_encoding: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The JSON report; sent gzip-encoded as stored when the client accepts it, with an ETag."""
    found = await reader.succeeded(scan_id, owner)
    if isinstance(found, str):
        raise ApiError(409, "report_not_ready", f"scan {scan_id} is {found}")
    key, blob, private = found
    etag = f'"{key}"'
    # A private model's report must never sit in a shared cache: it is visible to one API key only.
    headers = (
        {"ETag": etag, "Cache-Control": "private, max-age=3600", "Vary": "Accept-Encoding, Authorization, X-API-Key"}
        if private
        else {"ETag": etag, "Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    )
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    if blob is None:
        raise ApiError(404, "report_expired", f"the report of scan {scan_id} has expired; submit the scan again")
    if accept_encoding and "gzip" in accept_encoding:
        return Response(blob, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(reader.identity(key, blob), media_type="application/json", headers=headers)


def _report(store: ScanStore, key: str, scan_id: str) -> Report:
    data = store.report_json(key)
    if data is None:
        raise ApiError(404, "report_expired", f"the report of scan {scan_id} has expired; submit the scan again")
    return Report.model_validate(data)


@router.get("/{scan_id}/card", responses={200: {"content": {"text/markdown": {}}}, **ERRORS})
def get_card(scan_id: ScanId, store: StoreDep, owner: CallerDep, request: Request) -> Response:
    """A model-card snippet: YAML front matter under ``flagscan:`` and a markdown section."""
    key = _succeeded_cache_key(store, scan_id, owner, request)
    return Response(model_card(_report(store, key, scan_id)), media_type="text/markdown; charset=utf-8")


@router.get("/{scan_id}/plots/{name}", responses={200: {"content": {"image/png": {}}}, **ERRORS})
def get_plot(
    scan_id: ScanId,
    name: PlotName,
    store: StoreDep,
    owner: CallerDep,
    request: Request,
) -> Response:
    """A PNG figure of the report (rendered once, then cached with the report)."""
    key = _succeeded_cache_key(store, scan_id, owner, request)
    plot_key = store.keys.plot(key, name)
    png = store.redis.get(plot_key)
    if png is None:
        png = render_plot(_report(store, key, scan_id), name)
        store.redis.set(plot_key, png, ex=store.ttl)
    return Response(png, media_type="image/png")  # type: ignore[arg-type]


@router.delete("/{scan_id}", responses=ERRORS)
def cancel_scan(scan_id: ScanId, store: StoreDep, redis: RedisDep, owner: CallerDep, request: Request) -> Scan:
    """Cancel a queued or running scan."""
    record = _visible_record(store, scan_id, owner)
    if record.get("owner") not in (owner, "anonymous"):
        raise ApiError(403, "forbidden", "only the API key that submitted a scan can cancel it")
    scan = store.view(scan_id, _base(request))
    if scan.status in FINAL_STATUSES:
        raise ApiError(409, "not_cancelable", f"scan {scan_id} is already {scan.status}")
    try:
        job = Job.fetch(scan_id, connection=redis)
        if scan.status == "running":
            send_stop_job_command(redis, scan_id)
        else:
            job.cancel()
    except (NoSuchJobError, InvalidJobOperation):
        pass
    store.finish(scan_id, "canceled", {"code": "canceled", "message": "canceled by request"})
    redis.hincrby(store.keys.metrics(), "scans_canceled", 1)
    return store.view(scan_id, _base(request))
