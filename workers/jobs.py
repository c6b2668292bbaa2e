"""RQ job entry points. The API enqueues ``workers.jobs.run_scan`` by dotted path, so it never imports torch.

A job returns an outcome dict instead of raising for permanent errors, so RQ's retries (meant for transient
errors and for jobs abandoned by a dead worker) never repeat a scan that cannot succeed.
"""

from __future__ import annotations

import gzip
import logging
from typing import Any

from rq import get_current_job

from workers.errors import ScanError

logger = logging.getLogger(__name__)

PROGRESS_META_KEY = "progress"
"""Job meta key holding {layers_done, layers_total, bytes_read, bytes_total}, written once per layer."""

ERROR_META_KEY = "error"
"""Job meta key holding the last typed error {code, message}, written before a transient error is re-raised."""


def run_scan(model_id: str, commit_sha: str, options: dict[str, Any], revision: str | None = None) -> dict[str, Any]:
    """Scan ``model_id`` pinned at ``commit_sha``; progress goes to job meta.

    Returns:
        ``{"status": "succeeded", "report_gz": bytes}`` or ``{"status": "failed", "error": {code, message}}``.

    Raises:
        ScanError: only transient ones (``hub_unavailable``), so RQ retries them with backoff. Any other
        exception (a job timeout, running out of memory) is returned as ``internal_error``: a retry would repeat it.
    """
    import torch

    from workers.device import resolve_device
    from workers.pipeline import Progress, scan
    from workers.report import ScanOptions
    from workers.settings import get_settings
    from workers.sources import HubSource

    settings = get_settings()
    if settings.FLAGSCAN_TORCH_THREADS:
        torch.set_num_threads(settings.FLAGSCAN_TORCH_THREADS)
    job = get_current_job()
    if job is not None and job.meta.pop(ERROR_META_KEY, None) is not None:
        job.save_meta()  # an error from an earlier attempt must not outlive this one

    def on_progress(p: Progress) -> None:
        if job is not None:
            job.meta[PROGRESS_META_KEY] = p.__dict__
            job.save_meta()

    try:
        source = HubSource(model_id, revision, settings.hub(), commit_sha=commit_sha)
        try:
            report = scan(source, ScanOptions(**options), resolve_device(settings.FLAGSCAN_DEVICE), on_progress)
        finally:
            source.close()
    except ScanError as err:
        error = {"code": err.code, "message": err.message}
        logger.warning("scan of %s@%s failed: [%s] %s", model_id, commit_sha, err.code, err.message)
        if err.transient:
            if job is not None:
                job.meta[ERROR_META_KEY] = error
                job.save_meta()
            raise
        return {"status": "failed", "error": error}
    except Exception as err:  # noqa: BLE001 - timeouts, OOM, LAPACK failures: retrying would only repeat them
        logger.exception("scan of %s@%s crashed", model_id, commit_sha)
        return {
            "status": "failed",
            "error": {"code": "internal_error", "message": f"{type(err).__name__}: {err}"[:500]},
        }
    return {"status": "succeeded", "report_gz": gzip.compress(report.model_dump_json().encode())}
