"""Head subspace overlap within a layer and composition across layers (DESIGN §2.4)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workers.diagnostics._checks import DiagnosticInputError, as_matrix
from workers.diagnostics.angles import DEFAULT_RANK_RTOL
from workers.diagnostics.flag import DEFAULT_TOLERANCE_DEG

__all__ = ["HeadBases", "HeadOverlap", "head_bases", "head_overlap", "subspace_overlap"]


@dataclass(frozen=True)
class HeadBases:
    """Orthonormal bases of H head subspaces of ``R^d``, zero-padded to a common width.

    ``Q[h, :, :ranks[h]]`` spans head h's subspace; columns past ``ranks[h]`` are zero.
    """

    Q: torch.Tensor
    ranks: list[int]

    @property
    def dim(self) -> int:
        """The ambient dimension d (``d_model``)."""
        return int(self.Q.shape[1])


@dataclass(frozen=True)
class HeadOverlap:
    """Summary of an H×H head-overlap matrix; off-diagonal statistics only."""

    overlap: list[list[float]]
    mean_overlap: float
    max_overlap: float
    baseline: float
    mean_excess: float
    max_excess: float
    redundant_pairs: int


def head_bases(spans: torch.Tensor, rtol: float = DEFAULT_RANK_RTOL, dtype: torch.dtype | None = None) -> HeadBases:
    """Orthonormal bases of per-head subspaces with a relative rank cutoff.

    Parameters
    ----------
    spans : (H, d, d_head) Tensor
        Column ``j`` of ``spans[h]`` is a spanning vector of head h's subspace of ``R^d``:
        ``(W_t^h)ᵀ`` for t ∈ {q, k, v} (row space), ``W_O^h`` for o (column space).
    rtol : float
        Relative singular-value cutoff per head.
    dtype : torch.dtype, optional
        Compute dtype (float64 by default).

    Returns
    -------
    HeadBases
        ``Q`` of shape (H, d, d_head); ``ranks[h] = #{i : S_i^h > rtol · S_1^h}`` (0 for a zero head).
    """
    if spans.ndim != 3:
        raise DiagnosticInputError(f"spans: expected (H, d, d_head), got shape {tuple(spans.shape)}")
    as_matrix(spans.reshape(spans.shape[0] * spans.shape[1], spans.shape[2]), "spans", dtype)
    # 1. Batched SVD of every head at once.
    U, S, _ = torch.linalg.svd(spans.to(dtype or torch.float64), full_matrices=False)
    # 2. Per-head rank, then zero the columns past it.
    top = S[:, :1]
    keep = (S > rtol * top) & (top > 0)
    ranks = [int(r) for r in keep.sum(dim=1)]
    return HeadBases(U * keep[:, None, :].to(U.dtype), ranks)


def _block_overlaps(a: HeadBases, b: HeadBases) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per pair (i, j): ‖Q_iᵀ Q_j‖_F², the largest principal cosine, and ``min(r_i, r_j)``."""
    if a.dim != b.dim:
        raise DiagnosticInputError(f"head subspaces live in R^{a.dim} and R^{b.dim}")
    M = torch.einsum("adi,bdj->abij", a.Q, b.Q.to(a.Q.dtype))
    fro_sq = (M**2).sum(dim=(2, 3))
    max_cos = torch.linalg.matrix_norm(M, ord=2).clamp(max=1.0)
    ra = torch.tensor(a.ranks, dtype=a.Q.dtype, device=a.Q.device)
    rb = torch.tensor(b.ranks, dtype=a.Q.dtype, device=a.Q.device)
    return fro_sq, max_cos, torch.minimum(ra[:, None], rb[None, :])


def subspace_overlap(a: HeadBases, b: HeadBases) -> torch.Tensor:
    """Normalised projection kernel between every head of ``a`` and every head of ``b``.

    Parameters
    ----------
    a : HeadBases
        H_a subspaces of ``R^d``.
    b : HeadBases
        H_b subspaces of ``R^d``.

    Returns
    -------
    overlap : (H_a, H_b) Tensor
        ``overlap(i, j) = ‖Q_iᵀ Q_j‖_F² / min(r_i, r_j)`` in [0, 1]; 0 where either head has rank 0.

    Notes
    -----
    Used for composition between layers: layer l's o-subspaces against layer l+1's q/k/v subspaces.
    """
    fro_sq, _, r_min = _block_overlaps(a, b)
    return torch.where(r_min > 0, fro_sq / r_min.clamp(min=1), torch.zeros_like(fro_sq))


def head_overlap(bases: HeadBases, tolerance_deg: float = DEFAULT_TOLERANCE_DEG) -> HeadOverlap:
    """Overlap between the H head subspaces of one projection, against the random baseline.

    Parameters
    ----------
    bases : HeadBases
        The heads of one projection t ∈ {q, k, v, o} of one layer (H ≥ 2).
    tolerance_deg : float
        τ in degrees: a pair is redundant when its smallest principal angle is ≤ τ.

    Returns
    -------
    HeadOverlap
        The full matrix (diagonal 1 for non-zero heads) and off-diagonal statistics.

    Notes
    -----
    ``overlap(i, j) = ‖Q_iᵀ Q_j‖_F² / min(r_i, r_j)``; random baseline ``b_ij = max(r_i, r_j) / d``;
    ``excess = (overlap − b) / (1 − b)``. A pair is redundant when ``dim_τ(S_i ∩ S_j) ≥ 1``,
    i.e. when ``σ_max(Q_iᵀ Q_j) ≥ cos τ``. Invariant to permuting heads (the matrix permutes),
    to ``W^h → G W^h`` for invertible G, to rotations of ``R^d`` and to rescaling.
    """
    H, d = len(bases.ranks), bases.dim
    if H < 2:
        raise DiagnosticInputError(f"head overlap needs at least 2 heads, got {H}")
    fro_sq, max_cos, r_min = _block_overlaps(bases, bases)
    overlap = torch.where(r_min > 0, fro_sq / r_min.clamp(min=1), torch.zeros_like(fro_sq))
    r = torch.tensor(bases.ranks, dtype=overlap.dtype, device=overlap.device)
    baseline = torch.maximum(r[:, None], r[None, :]) / d
    excess = torch.where(
        baseline < 1, (overlap - baseline) / (1 - baseline).clamp(min=1e-12), torch.zeros_like(overlap)
    )
    off = ~torch.eye(H, dtype=torch.bool, device=overlap.device)
    upper = torch.triu(torch.ones(H, H, dtype=torch.bool, device=overlap.device), diagonal=1)
    redundant = (max_cos >= math.cos(math.radians(tolerance_deg))) & (r_min > 0) & upper
    return HeadOverlap(
        overlap=overlap.cpu().tolist(),
        mean_overlap=float(overlap[off].mean()),
        max_overlap=float(overlap[off].max()),
        baseline=float(baseline[off].mean()),
        mean_excess=float(excess[off].mean()),
        max_excess=float(excess[off].max()),
        redundant_pairs=int(redundant.sum()),
    )
