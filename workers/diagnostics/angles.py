"""Orthonormal bases and principal angles between subspaces."""

from __future__ import annotations

import math

import torch

from workers.diagnostics._checks import DiagnosticInputError, as_matrix

__all__ = ["DEFAULT_RANK_RTOL", "orthonormal_basis", "principal_angles"]

DEFAULT_RANK_RTOL = 1e-5
"""Singular values below this fraction of the largest count as zero when finding a rank.
It sits above float32 round-off (~1e-7) so exactly rank-deficient float32 weights read as such."""


def orthonormal_basis(W: torch.Tensor, rtol: float = DEFAULT_RANK_RTOL) -> torch.Tensor:
    """Orthonormal basis of the column space of ``W`` with a relative rank cutoff.

    Parameters
    ----------
    W : (n, k) Tensor
        Spanning vectors as columns.
    rtol : float
        Singular values ``S_i <= rtol * S_1`` are treated as zero.

    Returns
    -------
    Q : (n, r) Tensor
        Left singular vectors of ``W`` for the ``r`` retained singular values, ordered by
        decreasing singular value. ``r = 0`` when ``W`` is the zero matrix.

    Notes
    -----
    ``W = U diag(S) Vᴴ``; ``Q = U[:, :r]`` with ``r = #{i : S_i > rtol · S_1}``.
    """
    W = as_matrix(W, "W")
    U, S, _ = torch.linalg.svd(W, full_matrices=False)
    if S.numel() == 0 or float(S[0]) == 0.0:
        return U[:, :0]
    r = int((S > rtol * S[0]).sum())
    return U[:, :r]


def principal_angles(QA: torch.Tensor, QB: torch.Tensor) -> torch.Tensor:
    """Principal angles between two subspaces given orthonormal bases, accurate near 0.

    Parameters
    ----------
    QA : (n, a) Tensor
        Orthonormal basis of the first subspace.
    QB : (n, b) Tensor
        Orthonormal basis of the second subspace.

    Returns
    -------
    theta : (min(a, b),) Tensor
        Angles in radians, ascending, in ``[0, π/2]``.

    Notes
    -----
    The cosines are the singular values ``σ_i`` of ``QAᵀ QB``. ``arccos`` loses angles whose
    cosine rounds to 1 (below ~1e-8 rad), so angles with ``σ_i² ≥ 1/2`` come from the sines
    instead: the singular values of ``QB − QA (QAᵀ QB)`` (with ``QB`` the narrower basis).

    References
    ----------
    A. V. Knyazev and M. E. Argentati, "Principal angles between subspaces in an A-based
    scalar product", SIAM J. Sci. Comput. 23(6), 2002. (The method of
    ``scipy.linalg.subspace_angles``.)
    """
    QA = as_matrix(QA, "QA")
    QB = as_matrix(QB, "QB")
    if QA.shape[0] != QB.shape[0]:
        raise DiagnosticInputError(f"bases live in different spaces: {tuple(QA.shape)} vs {tuple(QB.shape)}")
    if QA.shape[1] > QA.shape[0] or QB.shape[1] > QB.shape[0]:
        raise DiagnosticInputError(f"a basis has more columns than its dimension: {tuple(QA.shape)}, {tuple(QB.shape)}")
    # 1. Make QB the narrower basis so the sine matrix has min(a, b) singular values.
    if QB.shape[1] > QA.shape[1]:
        QA, QB = QB, QA
    # 2. Cosines, descending.
    QA_T_QB = QA.T @ QB
    sigma = torch.linalg.svdvals(QA_T_QB).clamp(0.0, 1.0)
    # 3. Sines, from the part of QB outside span(QA); sorted ascending to pair with descending cosines.
    sines = torch.linalg.svdvals(QB - QA @ QA_T_QB).clamp(0.0, 1.0)
    sines = torch.sort(sines).values
    # 4. Small angles from arcsin, large ones from arccos.
    small = sigma**2 >= 0.5
    theta = torch.where(small, torch.arcsin(sines), torch.arccos(sigma))
    return theta.clamp(0.0, math.pi / 2)
