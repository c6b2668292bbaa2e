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
from workers.diagnostics import commutator, head_bases, head_overlap, imbalance  # noqa: E402

SIZES = [(1536, 384, 384), (6144, 1024, 1024), (14336, 4096, 4096)]
DENSE_LIMIT_BYTES = 8 * 1024**3
DENSE_MATRICES = 5
"""A, B, AB, BA and AB − BA are alive at once in the dense formula."""


def _junction(n: int, m: int, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    P = torch.randn(n, m, generator=g, dtype=torch.float32) / math.sqrt(m)
    C = torch.randn(p, n, generator=g, dtype=torch.float32) / math.sqrt(n)
    return P, C


def _low_rank(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    P, C = inputs
    return commutator(P, C).kappa, imbalance(P, C).imbalance


def _dense(inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    P, C = (x.to(torch.float64) for x in inputs)
    A, B = P @ P.T, C.T @ C
    norm_A, norm_B = torch.linalg.norm(A), torch.linalg.norm(B)
    kappa = float(torch.linalg.norm(A @ B - B @ A) / (math.sqrt(2) * norm_A * norm_B))
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
    header = "| n | m | p | low-rank s | low-rank peak MiB | dense s | dense peak MiB | speed-up | max rel. diff |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")
    for n, m, p in sizes:
        setup = functools.partial(_junction, n, m, p)
        lr_s, lr_mem, (lr_k, lr_b) = measure(setup, _low_rank)
        if DENSE_MATRICES * n * n * 8 > DENSE_LIMIT_BYTES:
            dense_cells = "skipped (>8 GB) | skipped | – | –"
        else:
            d_s, d_mem, (d_k, d_b) = measure(setup, _dense)
            diff = max(abs(lr_k - d_k) / d_k, abs(lr_b - d_b) / d_b)
            dense_cells = f"{d_s:.2f} | {d_mem / 2**20:.0f} | {d_s / lr_s:.1f}× | {diff:.1e}"
        print(f"| {n} | {m} | {p} | {lr_s:.2f} | {lr_mem / 2**20:.0f} | {dense_cells} |")
    print()
    H, dh, d = 32, 128, 4096
    h_s, h_mem, excess = measure(functools.partial(_heads_setup, H, dh, d), _heads)
    print("| head overlap | H | d_head | d_model | s | peak MiB | mean excess |")
    print("|---|---|---|---|---|---|---|")
    print(f"| bases + H×H overlap + redundancy | {H} | {dh} | {d} | {h_s:.2f} | {h_mem / 2**20:.0f} | {excess:+.4f} |")


if __name__ == "__main__":
    main()
