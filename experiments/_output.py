"""Output helpers shared by the experiments: CLI parsing, CSV rows, PNG figures and summary statistics."""

from __future__ import annotations

import argparse
import csv
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

__all__ = ["FIGURE_DPI", "mean_std", "new_figure", "parse_args", "save_figure", "to_palette_png", "write_csv"]

FIGURE_DPI = 90
"""Resolution of the PNGs; keeps each committed figure well under 200 KB."""


def parse_args(name: str, argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    """Parse ``--out DIR`` (default ``experiments/out/<name>/``, created) and ``--workers N``."""
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=description)
    parser.add_argument("--out", type=Path, default=Path("experiments") / "out" / name, help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="training processes (default 2, one per core)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def write_csv(path: Path, rows: Iterable[Mapping[str, object]]) -> int:
    """Write dict rows (header: every key, in first-seen order; missing cells empty); return the row count."""
    rows = list(rows)
    fieldnames = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    return len(rows)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6) -> tuple[Figure, object]:
    """A figure with an ``nrows × ncols`` grid of axes, each ``width × height`` inches."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes


def save_figure(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as a PNG at `FIGURE_DPI`, close it, and shrink it with `to_palette_png`."""
    fig.tight_layout()
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    return to_palette_png(path)


def to_palette_png(path: Path) -> Path:
    """Rewrite a PNG with a 256-colour palette: line plots look the same at a third of the size."""
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256)
    palette.save(path, optimize=True)
    return path


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = [float(v) for v in values]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
