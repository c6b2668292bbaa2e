"""Commutator magnitude κ and its Haar null κ₀ against analytic answers."""

from __future__ import annotations

import math

import pytest
import torch

from workers.diagnostics import DiagnosticInputError, commutator, gram_traces, kappa_null


def _rotation(n: int, g: torch.Generator) -> torch.Tensor:
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))


def _direct_kappa(P: torch.Tensor, C: torch.Tensor) -> float:
    A, B = P @ P.T, C.T @ C
    return float(torch.linalg.norm(A @ B - B @ A) / (math.sqrt(2) * torch.linalg.norm(A) * torch.linalg.norm(B)))


def test_shared_eigenbasis_gives_zero() -> None:
    """A = U diag(a) Uᵀ and B = U diag(b) Uᵀ commute: κ = 0 (up to the identity's √eps resolution)."""
    g = torch.Generator().manual_seed(0)
    n = 40
    U = _rotation(n, g)
    P = U @ torch.diag(torch.rand(n, generator=g, dtype=torch.float64) + 0.1)
    C = torch.diag(torch.rand(n, generator=g, dtype=torch.float64) + 0.1) @ U.T
    assert commutator(P, C).kappa < 1e-12
    # Low-rank path (n > max(m, p)): producer and consumer on shared eigenvectors.
    n, r = 200, 10
    U = _rotation(n, g)[:, :r]
    P_low = U @ torch.diag(torch.rand(r, generator=g, dtype=torch.float64) + 0.5)
    C_low = torch.diag(torch.rand(r, generator=g, dtype=torch.float64) + 0.5) @ U.T
    result = commutator(P_low, C_low)
    assert result.kappa < 1e-6
    assert result.kappa_ratio is not None and result.kappa_ratio < 1e-5


@pytest.mark.parametrize(("n", "m", "p"), [(300, 20, 30), (200, 50, 7), (64, 64, 64), (10, 40, 3)])
def test_low_rank_identity_matches_direct_formula(n: int, m: int, p: int) -> None:
    g = torch.Generator().manual_seed(n + m + p)
    P = torch.randn(n, m, generator=g, dtype=torch.float64)
    C = torch.randn(p, n, generator=g, dtype=torch.float64) * torch.linspace(0.1, 3, n, dtype=torch.float64)
    kappa = commutator(P, C).kappa
    assert abs(kappa - _direct_kappa(P, C)) <= 1e-10 * _direct_kappa(P, C)


def test_low_rank_traces_match_dense_traces() -> None:
    g = torch.Generator().manual_seed(5)
    P = torch.randn(500, 16, generator=g, dtype=torch.float64)
    C = torch.randn(24, 500, generator=g, dtype=torch.float64)
    t = gram_traces(P, C)
    A, B = P @ P.T, C.T @ C
    for got, want in [
        (t.a1, torch.trace(A)),
        (t.a2, torch.trace(A @ A)),
        (t.b1, torch.trace(B)),
        (t.b2, torch.trace(B @ B)),
        (t.ab, torch.trace(A @ B)),
        (t.commutator_sq, torch.linalg.norm(A @ B - B @ A) ** 2),
    ]:
        assert abs(got - float(want)) <= 1e-10 * abs(float(want))


def test_kappa_is_bounded_by_one() -> None:
    """Böttcher–Wenzel: κ ≤ 1; the bound is nearly attained by rank-one Grams at 45°."""
    P = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    C = torch.tensor([[1.0, 1.0]], dtype=torch.float64) / math.sqrt(2)
    kappa = commutator(P, C).kappa
    assert 0.0 < kappa <= 1.0
    assert abs(kappa - _direct_kappa(P, C)) < 1e-14


def test_kappa_null_matches_monte_carlo_over_haar_rotations() -> None:
    """E‖[A, QBQᵀ]‖² over Haar Q at n = 64 agrees with the closed form within 3 standard errors."""
    g = torch.Generator().manual_seed(7)
    n, draws = 64, 2000
    P = torch.randn(n, 20, generator=g, dtype=torch.float64)
    C = torch.randn(30, n, generator=g, dtype=torch.float64) * torch.linspace(0.1, 2.0, n, dtype=torch.float64)
    A, B = P @ P.T, C.T @ C
    samples = torch.empty(draws, dtype=torch.float64)
    for i in range(draws):
        Q = _rotation(n, g)
        Bq = Q @ B @ Q.T
        samples[i] = torch.linalg.norm(A @ Bq - Bq @ A) ** 2
    t = gram_traces(P, C)
    predicted = (kappa_null(t) * math.sqrt(2) * math.sqrt(t.a2 * t.b2)) ** 2
    standard_error = float(samples.std()) / math.sqrt(draws)
    assert abs(float(samples.mean()) - predicted) < 3 * standard_error


def test_kappa_null_of_identity_gram_is_zero() -> None:
    """B = I commutes with every rotation of A, so the null is exactly 0 and the ratio is undefined."""
    P = torch.randn(6, 6, dtype=torch.float64)
    result = commutator(P, torch.eye(6, dtype=torch.float64))
    assert result.kappa < 1e-15
    assert result.kappa_null < 1e-7
    assert kappa_null(gram_traces(P, 3 * torch.eye(6, dtype=torch.float64))) < 1e-7


def test_zero_matrix_gives_documented_zero_and_no_ratio() -> None:
    result = commutator(torch.zeros(5, 3), torch.randn(4, 5))
    assert (result.kappa, result.kappa_null, result.kappa_ratio) == (0.0, 0.0, None)


def test_hidden_width_one_has_no_null() -> None:
    result = commutator(torch.randn(1, 3), torch.randn(2, 1))
    assert result.kappa == 0.0 and result.kappa_null == 0.0 and result.kappa_ratio is None


def test_rank_one_producer_is_measured() -> None:
    g = torch.Generator().manual_seed(9)
    P = torch.randn(50, 1, generator=g, dtype=torch.float64)
    C = torch.randn(3, 50, generator=g, dtype=torch.float64)
    assert abs(commutator(P, C).kappa - _direct_kappa(P, C)) < 1e-10


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(DiagnosticInputError, match="writes R\\^5"):
        commutator(torch.randn(5, 3), torch.randn(4, 6))
    with pytest.raises(DiagnosticInputError, match="non-finite"):
        commutator(torch.full((3, 3), float("inf")), torch.randn(3, 3))
    with pytest.raises(DiagnosticInputError, match="2-D"):
        commutator(torch.randn(3, 3, 3), torch.randn(3, 3))
