"""The scan pipeline: stream a checkpoint layer by layer, prefetching layer l+1 while layer l computes."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from workers.adapters import adapter_for
from workers.errors import CorruptFileError, NonFiniteWeightsError, ScanCanceledError, UnsupportedArchitectureError
from workers.layer_analysis import LayerAnalyzer
from workers.report import ModelInfo, Provenance, Report, ScanOptions
from workers.sources.base import WeightSource
from workers.summary import summarize


@dataclass(frozen=True)
class Progress:
    """Layers done of total, and bytes transferred against the bytes the scan needs."""

    layers_done: int
    layers_total: int
    bytes_read: int
    bytes_total: int


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


def _to_compute(tensors: dict[str, torch.Tensor], device: torch.device, context: str) -> dict[str, torch.Tensor]:
    """Move to the device in float64 (F16/BF16/F8 upcast exactly), refusing non-finite weights by name."""
    out = {}
    for name, t in tensors.items():
        x = t.to(device=device, dtype=torch.float64)
        if not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())
            raise NonFiniteWeightsError(f"{context}: tensor {name!r} has {bad} NaN/Inf values")
        out[name] = x
    return out


def scan(
    source: WeightSource,
    options: ScanOptions | None = None,
    device: torch.device | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Report:
    """Scan a checkpoint and build its report.

    Peak memory is about two layers' tensors (the one computing and the one prefetching), independent
    of depth. ``should_cancel`` is polled between layers; a true answer raises `ScanCanceledError`.
    """
    options = options or ScanOptions()
    device = device or torch.device("cpu")
    started = time.perf_counter()
    shapes = {name: loc.info.shape for name, loc in source.index.items()}
    adapter = adapter_for(source.config(), set(source.index), shapes=shapes)
    shape = adapter.shape
    if shape.num_layers == 0:
        raise UnsupportedArchitectureError(f"{source.context}: no layers found for {shape.architecture}")
    plans = [adapter.layer_tensors(layer) for layer in range(shape.num_layers)]
    missing = sorted({n for plan in plans for n in plan if n not in source.index})
    if missing:
        raise CorruptFileError(f"{source.context}: checkpoint lacks tensors {', '.join(missing[:5])}")
    bytes_total = sum(source.index[n].info.nbytes for n in {n for plan in plans for n in plan})
    analyzer = LayerAnalyzer(options)
    layers = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as prefetch:
        pending = prefetch.submit(source.read, plans[0])
        for index in range(shape.num_layers):
            if should_cancel is not None and should_cancel():
                pending.cancel()
                raise ScanCanceledError(f"{source.context}: canceled after {index} of {shape.num_layers} layers")
            fetched = pending.result()
            if index + 1 < shape.num_layers:
                pending = prefetch.submit(source.read, plans[index + 1])
            tensors = _to_compute(fetched, device, source.context)
            del fetched
            layers.append(analyzer.analyse(index, adapter.attention(index, tensors), adapter.mlps(index, tensors)))
            del tensors
            if on_progress is not None:
                on_progress(Progress(index + 1, shape.num_layers, source.bytes_read, bytes_total))
    return Report(
        model=ModelInfo(
            id=source.model_id,
            revision=source.revision,
            commit_sha=source.commit_sha,
            **shape.__dict__,
        ),
        options=options,
        layers=layers,
        summary=summarize(layers),
        provenance=Provenance(
            files=source.files,
            bytes_read=source.bytes_read,
            bytes_total=bytes_total,
            seconds=round(time.perf_counter() - started, 3),
            device=str(device),
        ),
    )
