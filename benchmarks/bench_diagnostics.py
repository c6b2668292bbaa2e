"""Benchmark: low-rank versus dense commutator/imbalance, and the full head-overlap computation.

Run: ``python benchmarks/bench_diagnostics.py`` (add ``--quick`` for the two smaller sizes only).
Prints one table row per junction size (n, m, p). Dense is skipped where its n×n matrices would exceed 8 GB.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import measure  # noqa: E402
from workers.diagnostics import (  # noqa: E402
    commutator,
    commutator_from_traces,
    gram_traces,
    head_bases,
    head_overlap,
    imbalance_diag,
    imbalance_from_traces,
)

SIZES = [(1536, 384, 384), (6144, 1024, 1024), (14336, 4096, 4096)]
DENSE_LIMIT_BYTES = 8 * 10**9
DENSE_MATRICES = 6
"""n×n float64 matrices the dense formula holds at its peak (A, B, AB, BA, the difference, a norm temporary);
measured: 8.76 GB at n = 14336, i.e. 5.3 of them, so 6 is the safe estimate."""


def _junction(n: int, m: int, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    P = torch.randn(n, m, generator=g, dtype=torch.float32) / math.sqrt(m)
    C = torch.randn(p, n, generator=g, dtype=torch.float32) / math.sqrt(n)
    return P, C


def _low_rank_kappa(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    P, C = inputs
    return commutator(P, C).kappa, float("nan")


def _low_rank_both(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """κ and β from one pass of traces, as the scan pipeline does (plus β_diag, which is O(nm))."""
    P, C = inputs
    traces = gram_traces(P, C)
    imbalance_diag(P, C)
    return commutator_from_traces(traces).kappa, imbalance_from_traces(traces)


def _dense_kappa_as_written(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """The n×n formula as written: ‖AB − BA‖_F with both n³ products."""
    P, C = (x.to(torch.float64) for x in inputs)
    A, B = P @ P.T, C.T @ C
    kappa = float(torch.linalg.norm(A @ B - B @ A) / (math.sqrt(2) * torch.linalg.norm(A) * torch.linalg.norm(B)))
    return kappa, float("nan")


def _dense_kappa(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """The n×n formulation, using BA = (AB)ᵀ for symmetric A and B (one n³ product, not two)."""
    P, C = (x.to(torch.float64) for x in inputs)
    A, B = P @ P.T, C.T @ C
    AB = A @ B
    kappa = float(torch.linalg.norm(AB - AB.T) / (math.sqrt(2) * torch.linalg.norm(A) * torch.linalg.norm(B)))
    return kappa, float("nan")


def _dense_both(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    P, C = (x.to(torch.float64) for x in inputs)
    A, B = P @ P.T, C.T @ C
    AB = A @ B
    norm_A, norm_B = torch.linalg.norm(A), torch.linalg.norm(B)
    kappa = float(torch.linalg.norm(AB - AB.T) / (math.sqrt(2) * norm_A * norm_B))
    beta = float(torch.linalg.norm(B - A) / (norm_A + norm_B))
    return kappa, beta


def _heads_setup(H: int, dh: int, d: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(H, d, dh, generator=g, dtype=torch.float32)


def _heads(spans: torch.Tensor) -> float:
    return head_overlap(head_bases(spans)).mean_excess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the two smaller sizes")
    args = parser.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, compute dtype float64")
    print()
    columns = ["quantity", "n", "m", "p", "low-rank s", "low-rank peak MiB", "dense s", "dense peak MiB", "speed-up"]
    print("| " + " | ".join([*columns, "max rel. diff"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, m, p in sizes:
        setup = functools.partial(_junction, n, m, p)
        for label, low, dense in (
            ("κ vs dense as written (AB and BA)", _low_rank_kappa, _dense_kappa_as_written),
            ("κ vs dense using BA = (AB)ᵀ", _low_rank_kappa, _dense_kappa),
            ("κ + β + β_diag vs dense κ + β", _low_rank_both, _dense_both),
        ):
            lr_s, lr_mem, lr = measure(setup, low)
            if DENSE_MATRICES * n * n * 8 > DENSE_LIMIT_BYTES:
                cells = "skipped (>8 GB) | skipped | – | –"
            else:
                d_s, d_mem, dn = measure(setup, dense)
                diff = max(abs(a - b) / abs(b) for a, b in zip(lr, dn, strict=True) if not math.isnan(b))
                cells = f"{d_s:.2f} | {d_mem / 2**20:.0f} | {d_s / lr_s:.1f}× | {diff:.1e}"
            print(f"| {label} | {n} | {m} | {p} | {lr_s:.2f} | {lr_mem / 2**20:.0f} | {cells} |", flush=True)
    print()
    H, dh, d = 32, 128, 4096
    h_s, h_mem, excess = measure(functools.partial(_heads_setup, H, dh, d), _heads)
    print("| head overlap | H | d_head | d_model | s | peak MiB | mean excess |")
    print("|---|---|---|---|---|---|---|")
    print(f"| bases + H×H overlap + redundancy | {H} | {dh} | {d} | {h_s:.2f} | {h_mem / 2**20:.0f} | {excess:+.4f} |")


if __name__ == "__main__":
    main()
