"""Spectral summaries against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from workers.diagnostics import DiagnosticInputError, spectrum, spectrum_from_singular_values


def test_diagonal_matrix_spectrum() -> None:
    result = spectrum(torch.diag(torch.tensor([3.0, 4.0, 0.0])))
    assert result.fro == pytest.approx(5.0)
    assert result.spectral == pytest.approx(4.0)
    assert result.stable_rank == pytest.approx(25 / 16)
    p = torch.tensor([4 / 7, 3 / 7], dtype=torch.float64)
    assert result.effective_rank == pytest.approx(math.exp(float(-(p * p.log()).sum())))


def test_identity_has_full_effective_and_stable_rank() -> None:
    result = spectrum(torch.eye(7))
    assert result.stable_rank == pytest.approx(7.0)
    assert result.effective_rank == pytest.approx(7.0)


def test_rank_one_matrix_has_unit_ranks() -> None:
    u = torch.randn(9, 1, dtype=torch.float64)
    result = spectrum(u @ torch.randn(1, 5, dtype=torch.float64))
    assert result.stable_rank == pytest.approx(1.0)
    assert result.effective_rank == pytest.approx(1.0, abs=1e-6)


def test_zero_matrix_is_all_zero() -> None:
    result = spectrum(torch.zeros(3, 3))
    assert (result.fro, result.spectral, result.stable_rank, result.effective_rank) == (0.0, 0.0, 0.0, 0.0)


def test_bad_singular_values_raise() -> None:
    with pytest.raises(DiagnosticInputError):
        spectrum_from_singular_values(torch.tensor([1.0, -1.0]))
    with pytest.raises(DiagnosticInputError):
        spectrum_from_singular_values(torch.tensor([]))
    with pytest.raises(DiagnosticInputError, match="non-finite"):
        spectrum(torch.tensor([[float("inf")]]))
