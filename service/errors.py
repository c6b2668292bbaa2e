"""API errors and the one place that turns typed errors into HTTP responses with ``{code, message}`` bodies."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from workers.errors import ScanError


class ApiError(Exception):
    """An error raised by a route, with its stable code and HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ScanNotFoundError(ApiError):
    """No scan with that id (or not visible to this API key)."""

    def __init__(self, scan_id: str) -> None:
        super().__init__(404, "scan_not_found", f"no scan {scan_id!r}")


HTTP_STATUS: dict[str, int] = {
    "invalid_model_id": 400,
    "invalid_revision": 400,
    "model_not_found": 404,
    "gated_or_private": 403,
    "hub_unavailable": 503,
    "range_unsupported": 502,
    "no_safetensors": 422,
    "unsupported_architecture": 422,
    "corrupt_file": 422,
    "too_large": 413,
    "non_finite_weights": 422,
    "canceled": 409,
}
"""HTTP status for each `ScanError` code raised while handling a request."""


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The uniform error body."""
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register handlers so every error leaves the API as ``{code, message}``."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.code, err.message)

    @app.exception_handler(ScanError)
    async def _scan_error(_: Request, err: ScanError) -> JSONResponse:
        return error_response(HTTP_STATUS.get(err.code, 500), err.code, err.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = err.errors()
        unknown = [".".join(str(p) for p in e["loc"][1:]) for e in problems if e.get("type") == "extra_forbidden"]
        if unknown:
            return error_response(422, "unknown_option", f"unknown field(s): {', '.join(unknown)}")
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems[:5])
        return error_response(422, "invalid_request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        return error_response(err.status_code, code, str(err.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception) -> JSONResponse:
        return error_response(500, "internal_error", f"unexpected {type(err).__name__}")
