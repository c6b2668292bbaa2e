"""Spectral summaries of a weight matrix (DESIGN §2.5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workers.diagnostics._checks import DiagnosticInputError, as_matrix

__all__ = ["Spectrum", "spectrum", "spectrum_from_singular_values"]


@dataclass(frozen=True)
class Spectrum:
    """Norms and effective ranks of one matrix."""

    fro: float
    spectral: float
    stable_rank: float
    effective_rank: float


def spectrum_from_singular_values(S: torch.Tensor) -> Spectrum:
    """Spectral summary from singular values (a by-product of an SVD taken elsewhere).

    Parameters
    ----------
    S : (k,) Tensor
        Singular values, non-negative.

    Returns
    -------
    Spectrum
        All zeros for the zero matrix.

    Notes
    -----
    ``fro = sqrt(Σ σ_i²)``, ``spectral = σ_1``, ``stable_rank = fro² / σ_1²`` and the entropy
    effective rank ``exp(−Σ p_i log p_i)`` with ``p_i = σ_i / Σ σ_j``.

    References
    ----------
    O. Roy and M. Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO 2007.
    """
    if S.ndim != 1 or S.numel() == 0:
        raise DiagnosticInputError(f"S: expected a non-empty vector of singular values, got shape {tuple(S.shape)}")
    S = S.to(torch.float64)
    if bool((S < 0).any()) or not bool(torch.isfinite(S).all()):
        raise DiagnosticInputError("S: singular values must be finite and non-negative")
    spectral = float(S.max())
    if spectral == 0.0:
        return Spectrum(0.0, 0.0, 0.0, 0.0)
    fro_sq = float((S**2).sum())
    p = S / S.sum()
    p = p[p > 0]
    entropy = float(-(p * p.log()).sum())
    return Spectrum(math.sqrt(fro_sq), spectral, fro_sq / spectral**2, math.exp(entropy))


def spectrum(W: torch.Tensor, dtype: torch.dtype | None = None) -> Spectrum:
    """Spectral summary of ``W``.

    Parameters
    ----------
    W : (m, n) Tensor
        Any weight matrix.
    dtype : torch.dtype, optional
        Compute dtype (float64 by default).

    Returns
    -------
    Spectrum
        See `spectrum_from_singular_values`.
    """
    return spectrum_from_singular_values(torch.linalg.svdvals(as_matrix(W, "W", dtype)))
