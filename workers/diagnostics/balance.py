"""Imbalance β of a junction: distance from the conserved balance ``Cᵀ C = P Pᵀ`` (DESIGN §2.3)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workers.diagnostics._checks import check_junction
from workers.diagnostics.commutator import GramTraces, gram_traces

__all__ = ["Imbalance", "imbalance", "imbalance_diag", "imbalance_from_traces"]


@dataclass(frozen=True)
class Imbalance:
    """β over the full Grams and β_diag over their diagonals (per-neuron balance)."""

    imbalance: float
    imbalance_diag: float


def imbalance_from_traces(traces: GramTraces) -> float:
    """β from precomputed traces: ``sqrt(a2 + b2 − 2 ab) / (sqrt(a2) + sqrt(b2))``; 0 when both Grams are zero."""
    denominator = math.sqrt(traces.a2) + math.sqrt(traces.b2)
    if denominator == 0.0:
        return 0.0
    return math.sqrt(max(traces.a2 + traces.b2 - 2.0 * traces.ab, 0.0)) / denominator


def imbalance(P: torch.Tensor, C: torch.Tensor, dtype: torch.dtype | None = None) -> Imbalance:
    """Imbalance of the junction ``z = C σ(P x)``.

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
    Imbalance
        Both values in [0, 1]; 0 when both matrices are zero.

    Notes
    -----
    With ``A = P Pᵀ``, ``B = Cᵀ C`` and ``D = B − A``::

        β      = ‖D‖_F / (‖A‖_F + ‖B‖_F),   ‖D‖_F² = ‖K_P‖_F² + ‖K_C‖_F² − 2 ‖C P‖_F²
        β_diag = ‖diag D‖_2 / (‖diag A‖_2 + ‖diag B‖_2),   diag A_i = ‖P_i,:‖², diag B_i = ‖C_:,i‖²

    Under gradient flow with weight decay λ on a linear junction, ``D(t) = D(0) e^{−2λt}``; for
    ReLU only ``diag D`` obeys this. β is *not* invariant to the function-preserving rescaling
    ``P → cP, C → C/c`` (it measures exactly that gauge); it is invariant to a joint rescaling.
    """
    P, C = check_junction(P, C, dtype)
    beta = imbalance_from_traces(gram_traces(P, C, dtype))
    return Imbalance(beta, imbalance_diag(P, C))


def imbalance_diag(P: torch.Tensor, C: torch.Tensor) -> float:
    """β_diag = ‖diag(CᵀC) − diag(PPᵀ)‖₂ / (‖diag PPᵀ‖₂ + ‖diag CᵀC‖₂), from row and column norms; 0 for zero inputs."""
    P, C = check_junction(P, C, None)
    diag_A = (P**2).sum(dim=1)
    diag_B = (C**2).sum(dim=0)
    denominator = float(torch.linalg.vector_norm(diag_A) + torch.linalg.vector_norm(diag_B))
    return 0.0 if denominator == 0.0 else float(torch.linalg.vector_norm(diag_B - diag_A)) / denominator
