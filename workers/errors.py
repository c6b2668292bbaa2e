"""Typed scan errors with a stable machine-readable ``code``; HTTP statuses are assigned in service/errors.py."""

from __future__ import annotations


class ScanError(Exception):
    """Base class for every error a scan can fail with; ``code`` is stable and machine-readable."""

    code = "scan_failed"
    transient = False
    """Transient errors are retried by the queue; permanent ones fail the scan at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# REQUEST ERRORS


class InvalidModelIdError(ScanError, ValueError):
    """A model id that is not a valid Hub repo id (or tries to escape one)."""

    code = "invalid_model_id"


class InvalidRevisionError(ScanError, ValueError):
    """A revision that is not a valid branch, tag or commit name."""

    code = "invalid_revision"


# REPOSITORY ERRORS


class ModelNotFoundError(ScanError, LookupError):
    """The repository, revision or a file in it does not exist (HTTP 404)."""

    code = "model_not_found"


class GatedOrPrivateError(ScanError, PermissionError):
    """The repository exists but the token cannot read it (HTTP 401/403)."""

    code = "gated_or_private"


class HubUnavailableError(ScanError, ConnectionError):
    """The Hub did not answer, or kept answering 429/5xx after retries."""

    code = "hub_unavailable"
    transient = True


class RangeUnsupportedError(ScanError, OSError):
    """The server ignored an HTTP Range request; flagscan refuses to download whole files by accident."""

    code = "range_unsupported"


# CHECKPOINT ERRORS


class NoSafetensorsError(ScanError, FileNotFoundError):
    """The revision has no safetensors weights (pickle checkpoints are refused, never unpickled)."""

    code = "no_safetensors"


class CorruptFileError(ScanError, ValueError):
    """A safetensors header or config.json is malformed, lies about sizes, or a read came back short."""

    code = "corrupt_file"


class TooLargeError(ScanError, ValueError):
    """The model exceeds a configured size limit."""

    code = "too_large"


class UnsupportedArchitectureError(ScanError, NotImplementedError):
    """No adapter maps this config.json and tensor layout to junctions."""

    code = "unsupported_architecture"


class NonFiniteWeightsError(ScanError, ValueError):
    """A weight matrix holds NaN or Inf values, so no diagnostic is defined."""

    code = "non_finite_weights"


# RUN ERRORS


class ScanCanceledError(ScanError):
    """The scan was canceled by a user; raised between layers."""

    code = "canceled"
