"""Flag alignment between a producer's output flag and a consumer's input flag (DESIGN §2.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workers.diagnostics._checks import DiagnosticInputError, as_matrix
from workers.diagnostics.angles import DEFAULT_RANK_RTOL, principal_angles

__all__ = ["DEFAULT_TOLERANCE_DEG", "FlagAlignment", "flag_alignment", "flag_alignment_from_bases", "rank_ladder"]

DEFAULT_TOLERANCE_DEG = 10.0
"""Principal angles at or below this many degrees count towards the intersection dimension."""

BATCHED_LADDER_MAX = 128
"""Up to this top rung, all r_ij come from one batched SVD of (L², top, top) masked blocks; above it,
each block is sliced (batching pads every block to top × top, which costs more flops than it saves)."""

TINY_TOLERANCE_GAP = 1e-12
"""When ``1 − cos τ`` is below this, cosines cannot resolve τ and the sine-formula angles are counted."""


@dataclass(frozen=True)
class FlagAlignment:
    """Overlap and intersection dimension of two flags over a rank ladder.

    ``overlap[i]``, ``baseline[i]`` and ``intersection_dim[i]`` belong to ``ladder[i]``;
    ``relative_position[i][j] = dim_τ(F_{ladder[i]} ∩ G_{ladder[j]})``.
    """

    ladder: list[int]
    overlap: list[float]
    baseline: list[float]
    intersection_dim: list[int]
    relative_position: list[list[int]]


def rank_ladder(r: int, max_rank: int | None = None) -> list[int]:
    """The ladder ``K = {1, 2, 4, …} ∪ {r}`` of subspace dimensions, capped at ``max_rank``.

    Parameters
    ----------
    r : int
        The largest dimension (the smaller effective rank of the pair).
    max_rank : int, optional
        Cap on the ladder's top rung.

    Returns
    -------
    list of int
        Strictly increasing dimensions; empty when ``r == 0``.
    """
    top = r if max_rank is None else min(r, max_rank)
    ladder: list[int] = []
    k = 1
    while k < top:
        ladder.append(k)
        k *= 2
    if top >= 1:
        ladder.append(top)
    return ladder


def _effective_rank(S: torch.Tensor, rtol: float) -> int:
    if S.numel() == 0 or float(S[0]) == 0.0:
        return 0
    return int((S > rtol * S[0]).sum())


def flag_alignment_from_bases(
    U_P: torch.Tensor,
    V_C: torch.Tensor,
    tolerance_deg: float = DEFAULT_TOLERANCE_DEG,
    max_rank: int | None = None,
) -> FlagAlignment:
    """Flag alignment from ordered orthonormal bases of the two flags.

    Parameters
    ----------
    U_P : (n, r_P) Tensor
        Producer's left singular vectors, by decreasing singular value (``F_k = span U_P[:, :k]``).
    V_C : (n, r_C) Tensor
        Consumer's right singular vectors, by decreasing singular value (``G_k = span V_C[:, :k]``).
    tolerance_deg : float
        τ, in degrees.
    max_rank : int, optional
        Cap on the ladder (the default uses ``r = min(r_P, r_C)``).

    Returns
    -------
    FlagAlignment

    Notes
    -----
    ``overlap(k) = ‖U_P[:, :k]ᵀ V_C[:, :k]‖_F² / k = mean_i cos² θ_i`` with random baseline ``k / n``;
    ``dim_τ(k) = #{i : θ_i ≤ τ}``; ``r_ij`` counts the singular values (principal cosines) of
    ``M[:K_i, :K_j] ≥ cos τ`` with ``M = U_Pᵀ V_C``, and ``dim_τ(k) = r_kk``. The cosine count is exact
    in float64 while ``1 − cos τ`` is resolvable (τ above ~1e-6 rad); for smaller τ the angles come
    from `principal_angles`, whose sine formula keeps angles near 0 accurate.
    """
    U_P = as_matrix(U_P, "U_P")
    V_C = as_matrix(V_C, "V_C")
    if U_P.shape[0] != V_C.shape[0]:
        raise DiagnosticInputError(f"flags live in different spaces: {tuple(U_P.shape)} vs {tuple(V_C.shape)}")
    if not 0.0 < tolerance_deg < 90.0:
        raise DiagnosticInputError(f"tolerance_deg must lie in (0, 90), got {tolerance_deg}")
    n = U_P.shape[0]
    tau = math.radians(tolerance_deg)
    cos_tau = math.cos(tau)
    ladder = rank_ladder(min(U_P.shape[1], V_C.shape[1]), max_rank)
    top = ladder[-1] if ladder else 0
    M = U_P[:, :top].T @ V_C[:, :top]
    overlap = [float((M[:k, :k] ** 2).sum()) / k for k in ladder]
    baseline = [k / n for k in ladder]
    # 1. r_ij: zeroing rows past K_i and columns past K_j keeps the singular values of M[:K_i, :K_j],
    #    so small ladders take one batched svdvals; large ones slice each block (fewer flops).
    index = torch.arange(top, device=M.device)
    masks = torch.stack([index < k for k in ladder]).to(M.dtype)
    if top <= BATCHED_LADDER_MAX:
        blocks = M * masks[:, None, :, None] * masks[None, :, None, :]
        relative = (torch.linalg.svdvals(blocks) >= cos_tau).sum(dim=-1).tolist()
    else:
        # A block whose ‖·‖_F² < cos²τ cannot hold a cosine ≥ cos τ: skip its SVD.
        relative = [
            [
                int((torch.linalg.svdvals(M[:ki, :kj]) >= cos_tau).sum())
                if float((M[:ki, :kj] ** 2).sum()) >= cos_tau**2
                else 0
                for kj in ladder
            ]
            for ki in ladder
        ]
    # 2. dim_τ(k) = r_kk. Counting cosines ≥ cos τ is exact while cos τ is resolvable from 1 in float64;
    #    below that (τ ≲ 1e-7 rad) count sine-formula angles instead.
    if 1.0 - cos_tau > TINY_TOLERANCE_GAP:
        dims = [int(relative[i][i]) for i in range(len(ladder))]
    else:
        dims = [int((principal_angles(U_P[:, :k], V_C[:, :k]) <= tau).sum()) for k in ladder]
        for i in range(len(ladder)):
            relative[i][i] = dims[i]
    return FlagAlignment(ladder, overlap, baseline, dims, relative)


def flag_alignment(
    P: torch.Tensor,
    C: torch.Tensor,
    tolerance_deg: float = DEFAULT_TOLERANCE_DEG,
    rtol: float = DEFAULT_RANK_RTOL,
    max_rank: int | None = None,
) -> FlagAlignment:
    """Flag alignment of a junction ``z = C σ(P x)`` (DESIGN §2.1).

    Parameters
    ----------
    P : (n, m) Tensor
        Producer, writing into the hidden space ``R^n``.
    C : (p, n) Tensor
        Consumer, reading from ``R^n``.
    tolerance_deg : float
        τ, in degrees.
    rtol : float
        Relative singular-value cutoff for the effective ranks.
    max_rank : int, optional
        Cap on the ladder.

    Returns
    -------
    FlagAlignment

    Notes
    -----
    ``P = U_P S_P V_Pᵀ`` and ``C = U_C S_C V_Cᵀ``; the flags are the nested spans of the
    columns of ``U_P`` and of ``V_C``, ordered by singular value.
    """
    P = as_matrix(P, "P")
    C = as_matrix(C, "C")
    if P.shape[0] != C.shape[1]:
        raise DiagnosticInputError(
            f"P {tuple(P.shape)} writes R^{P.shape[0]} but C {tuple(C.shape)} reads R^{C.shape[1]}"
        )
    U_P, S_P, _ = torch.linalg.svd(P, full_matrices=False)
    _, S_C, Vh_C = torch.linalg.svd(C, full_matrices=False)
    r_P, r_C = _effective_rank(S_P, rtol), _effective_rank(S_C, rtol)
    if r_P == 0 or r_C == 0:
        return FlagAlignment([], [], [], [], [])
    return flag_alignment_from_bases(U_P[:, :r_P], Vh_C[:r_C].T, tolerance_deg, max_rank)
