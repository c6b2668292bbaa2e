"""Input checks shared by the diagnostics: shapes, finiteness and the compute dtype."""

from __future__ import annotations

import math

import torch

DEFAULT_DTYPE = torch.float64
"""Diagnostics accumulate in float64: κ is a difference of two traces and loses
half its digits to cancellation when it is small."""


class DiagnosticInputError(ValueError):
    """A diagnostic was given a matrix it cannot measure (wrong rank, shape or non-finite entries)."""


def as_matrix(W: torch.Tensor, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return ``W`` as a finite 2-D tensor in the compute dtype, or raise `DiagnosticInputError`."""
    if not isinstance(W, torch.Tensor):
        raise DiagnosticInputError(f"{name}: expected a torch.Tensor, got {type(W).__name__}")
    if W.ndim != 2:
        raise DiagnosticInputError(f"{name}: expected a 2-D matrix, got shape {tuple(W.shape)}")
    if W.shape[0] == 0 or W.shape[1] == 0:
        raise DiagnosticInputError(f"{name}: empty matrix of shape {tuple(W.shape)}")
    W = W.to(dtype or DEFAULT_DTYPE)
    # A sum is NaN/Inf iff some entry is (or the entries overflow, which the diagnostics could not survive
    # either); it is one pass with no n×m temporary, unlike isfinite(W).all().
    if not math.isfinite(float(W.sum())):
        bad = int((~torch.isfinite(W)).sum())
        raise DiagnosticInputError(f"{name}: {bad} non-finite (NaN or Inf) entries in matrix of shape {tuple(W.shape)}")
    return W


def check_junction(
    P: torch.Tensor, C: torch.Tensor, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check that producer ``P`` (n, m) and consumer ``C`` (p, n) share the hidden width n."""
    P = as_matrix(P, "P", dtype)
    C = as_matrix(C, "C", dtype)
    if P.shape[0] != C.shape[1]:
        raise DiagnosticInputError(
            f"P {tuple(P.shape)} writes R^{P.shape[0]} but C {tuple(C.shape)} reads R^{C.shape[1]}"
        )
    return P, C
