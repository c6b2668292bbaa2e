"""Commutator magnitude κ of a junction and its Haar-random null κ₀ (DESIGN §2.2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workers.diagnostics._checks import check_junction

__all__ = ["Commutator", "GramTraces", "commutator", "commutator_from_traces", "gram_traces", "kappa_null"]


@dataclass(frozen=True)
class GramTraces:
    """Traces of the junction's Grams ``A = P Pᵀ`` and ``B = Cᵀ C``, all computed without forming them.

    ``a1 = tr A = ‖P‖_F²``, ``a2 = tr A² = ‖PᵀP‖_F²``, likewise ``b1``, ``b2``;
    ``ab = tr(AB) = ‖C P‖_F²``; ``commutator_sq = ‖AB − BA‖_F²``; ``n`` is the hidden width.
    """

    n: int
    a1: float
    a2: float
    b1: float
    b2: float
    ab: float
    commutator_sq: float


@dataclass(frozen=True)
class Commutator:
    """κ, the null κ₀, and their ratio (``None`` when κ₀ = 0: a zero Gram or ``n = 1``)."""

    kappa: float
    kappa_null: float
    kappa_ratio: float | None


def gram_traces(P: torch.Tensor, C: torch.Tensor, dtype: torch.dtype | None = None) -> GramTraces:
    """Traces of ``A = P Pᵀ``, ``B = Cᵀ C`` and ``‖[A, B]‖_F²``, never forming n×n products when n is large.

    Parameters
    ----------
    P : (n, m) Tensor
        Producer.
    C : (p, n) Tensor
        Consumer.
    dtype : torch.dtype, optional
        Compute dtype (float64 by default).

    Returns
    -------
    GramTraces

    Notes
    -----
    When ``n > max(m, p)``, with ``G = C P`` (p×m), ``K_P = PᵀP`` (m×m) and ``K_C = C Cᵀ`` (p×p)::

        ‖[A, B]‖_F² = 2 tr(K_C G K_P Gᵀ) − 2 ‖Gᵀ G‖_F²
        ‖A‖_F = ‖K_P‖_F,  ‖B‖_F = ‖K_C‖_F,  tr(AB) = ‖G‖_F²

    at cost O(nmp). Otherwise ``A`` and ``B`` are formed and ``AB − BA`` is taken directly.
    The identity subtracts two traces, so κ is resolved to about √eps ≈ 1e-8 in float64.
    """
    P, C = check_junction(P, C, dtype)
    n, m = P.shape
    p = C.shape[0]
    a1 = float((P**2).sum())
    b1 = float((C**2).sum())
    if n > max(m, p):
        G = C @ P
        K_P = P.T @ P
        K_C = C @ C.T
        a2 = float((K_P**2).sum())
        b2 = float((K_C**2).sum())
        ab = float((G**2).sum())
        first = float(((K_C @ G @ K_P) * G).sum())
        GtG = G.T @ G
        commutator_sq = max(2.0 * first - 2.0 * float((GtG**2).sum()), 0.0)
    else:
        A = P @ P.T
        B = C.T @ C
        AB = A @ B
        a2 = float((A**2).sum())
        b2 = float((B**2).sum())
        ab = float(torch.trace(AB))
        commutator_sq = float(((AB - AB.T) ** 2).sum())
    return GramTraces(n, a1, a2, b1, b2, ab, commutator_sq)


def kappa_null(traces: GramTraces) -> float:
    """Closed-form Haar null κ₀: κ with the consumer's Gram rotated by a random orthogonal Q.

    Parameters
    ----------
    traces : GramTraces
        Traces of the junction (spectra are all that matter).

    Returns
    -------
    float
        ``κ₀ = sqrt(E_Q ‖[A, Q B Qᵀ]‖_F²) / (√2 ‖A‖_F ‖B‖_F)``; 0 when a Gram is zero or ``n = 1``.

    Notes
    -----
    With ``N = n`` and Q Haar on O(N) (orthogonal Weingarten calculus)::

        E tr(A² Q B² Qᵀ)        = a2 b2 / N
        E tr(A QBQᵀ A QBQᵀ)     = [(N+2)(a2 b1² + a2 b2 + a1² b2) − (2 a2 + a1²)(b1² + 2 b2)] / (N (N−1) (N+2))
        E ‖[A, QBQᵀ]‖_F²        = 2 (first) − 2 (second)
    """
    N = traces.n
    a1, a2, b1, b2 = traces.a1, traces.a2, traces.b1, traces.b2
    if N < 2 or a2 == 0.0 or b2 == 0.0:
        return 0.0
    first = a2 * b2 / N
    second = ((N + 2) * (a2 * b1**2 + a2 * b2 + a1**2 * b2) - (2 * a2 + a1**2) * (b1**2 + 2 * b2)) / (
        N * (N - 1) * (N + 2)
    )
    expected_sq = max(2.0 * first - 2.0 * second, 0.0)
    return math.sqrt(expected_sq) / (math.sqrt(2.0) * math.sqrt(a2 * b2))


def commutator(P: torch.Tensor, C: torch.Tensor, dtype: torch.dtype | None = None) -> Commutator:
    """Commutator magnitude κ of the junction ``z = C σ(P x)``, with its null κ₀ and κ/κ₀.

    Parameters
    ----------
    P : (n, m) Tensor
        Producer.
    C : (p, n) Tensor
        Consumer.
    dtype : torch.dtype, optional
        Compute dtype (float64 by default).

    Returns
    -------
    Commutator
        ``kappa`` in [0, 1]; ``kappa_ratio`` is ``None`` when ``kappa_null == 0``.

    Notes
    -----
    ``κ = ‖AB − BA‖_F / (√2 ‖A‖_F ‖B‖_F)`` with ``A = P Pᵀ``, ``B = Cᵀ C``. It lies in [0, 1]
    (Böttcher–Wenzel) and is 0 exactly when A and B share an eigenbasis. κ is invariant to
    rescaling P or C and to ``P → R P, C → C Rᵀ`` for orthogonal R. A zero P or C gives
    ``κ = κ₀ = 0`` and ratio ``None``.

    References
    ----------
    A. Böttcher and D. Wenzel, "The Frobenius norm and the commutator", Linear Algebra Appl. 429, 2008.
    """
    return commutator_from_traces(gram_traces(P, C, dtype))


def commutator_from_traces(t: GramTraces) -> Commutator:
    """κ, κ₀ and κ/κ₀ from precomputed traces (see `commutator`)."""
    if t.a2 == 0.0 or t.b2 == 0.0:
        return Commutator(0.0, 0.0, None)
    kappa = min(math.sqrt(t.commutator_sq) / (math.sqrt(2.0) * math.sqrt(t.a2 * t.b2)), 1.0)
    k0 = kappa_null(t)
    return Commutator(kappa, k0, kappa / k0 if k0 > 0.0 else None)
