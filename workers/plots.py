"""Figures from a report (matplotlib, Agg backend, PNG bytes). Torch-free."""

from __future__ import annotations

import io
from collections import defaultdict
from statistics import fmean
from typing import Literal, get_args

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from workers.report import Report  # noqa: E402

PlotName = Literal["kappa_ratio", "imbalance", "head_excess"]
PLOT_NAMES: tuple[str, ...] = get_args(PlotName)
"""Figures every report can render."""


def _per_layer(report: Report, field: str) -> dict[str, tuple[list[int], list[float]]]:
    series: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for layer in report.layers:
        for j in layer.junctions:
            value = getattr(j, field)
            if value is not None:
                series[j.kind][layer.index].append(value)
    return {kind: (sorted(v), [fmean(v[i]) for i in sorted(v)]) for kind, v in series.items()}


def render_plot(report: Report, name: str) -> bytes:
    """PNG of one named figure.

    Raises:
        KeyError: for a name not in `PLOT_NAMES`.
    """
    if name not in PLOT_NAMES:
        raise KeyError(name)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    try:
        if name == "head_excess":
            for role in ("q", "k", "v", "o"):
                points = [
                    (layer.index, layer.heads[role].mean_excess) for layer in report.layers if role in layer.heads
                ]
                if points:
                    ax.plot(*zip(*points, strict=True), marker="o", label=role)
            ax.axhline(0.0, color="grey", lw=0.8, ls="--")
            ax.set_ylabel("mean head-overlap excess")
        else:
            field = "kappa_ratio" if name == "kappa_ratio" else "imbalance"
            for kind, (xs, ys) in sorted(_per_layer(report, field).items()):
                ax.plot(xs, ys, marker="o", label=kind)
            if name == "kappa_ratio":
                ax.axhline(1.0, color="grey", lw=0.8, ls="--")
            ax.set_ylabel("κ/κ₀ (mean per layer)" if name == "kappa_ratio" else "imbalance β (mean per layer)")
        ax.set_xlabel("layer")
        ax.set_title(f"{report.model.id}: {name.replace('_', ' ')}", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)
