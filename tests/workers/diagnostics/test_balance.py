"""Imbalance β and β_diag against analytic answers."""

from __future__ import annotations

import math

import pytest
import torch

from workers.diagnostics import DiagnosticInputError, imbalance


def test_balanced_linear_pair_has_zero_imbalance() -> None:
    """C = Pᵀ gives CᵀC = PPᵀ exactly: β = β_diag = 0, also on the low-rank path."""
    g = torch.Generator().manual_seed(0)
    for n, m in [(20, 30), (300, 12)]:
        P = torch.randn(n, m, generator=g, dtype=torch.float64)
        result = imbalance(P, P.T)
        assert result.imbalance < 1e-7
        assert result.imbalance_diag < 1e-15


@pytest.mark.parametrize(("n", "m", "p"), [(400, 10, 20), (30, 30, 30)])
def test_imbalance_matches_direct_formula(n: int, m: int, p: int) -> None:
    g = torch.Generator().manual_seed(n)
    P = torch.randn(n, m, generator=g, dtype=torch.float64)
    C = torch.randn(p, n, generator=g, dtype=torch.float64)
    A, B = P @ P.T, C.T @ C
    direct = float(torch.linalg.norm(B - A) / (torch.linalg.norm(A) + torch.linalg.norm(B)))
    direct_diag = float(
        torch.linalg.norm(torch.diagonal(B) - torch.diagonal(A))
        / (torch.linalg.norm(torch.diagonal(A)) + torch.linalg.norm(torch.diagonal(B)))
    )
    result = imbalance(P, C)
    assert abs(result.imbalance - direct) <= 1e-10 * direct
    assert abs(result.imbalance_diag - direct_diag) <= 1e-12


def test_per_neuron_balance_without_full_balance() -> None:
    """Rows of P and columns of C with equal norms but different directions: β_diag = 0 < β."""
    g = torch.Generator().manual_seed(1)
    n, m = 16, 16
    P = torch.randn(n, m, generator=g, dtype=torch.float64)
    directions = torch.randn(m, n, generator=g, dtype=torch.float64)
    C = directions / directions.norm(dim=0) * P.norm(dim=1)  # column i of C has the norm of row i of P
    result = imbalance(P, C)
    assert result.imbalance_diag < 1e-14
    assert result.imbalance > 0.1


def test_one_sided_junction_has_imbalance_one() -> None:
    """β = ‖B − A‖ / (‖A‖ + ‖B‖) = 1 when A and B live on orthogonal subspaces."""
    P = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    C = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    assert imbalance(P, C).imbalance == pytest.approx(math.sqrt(1 + 16) / (1 + 4))


def test_scale_behaviour_of_imbalance() -> None:
    """β is invariant to a joint rescaling but not to the function-preserving P → cP, C → C/c."""
    g = torch.Generator().manual_seed(2)
    P = torch.randn(10, 6, generator=g, dtype=torch.float64)
    C = torch.randn(4, 10, generator=g, dtype=torch.float64)
    base = imbalance(P, C)
    joint = imbalance(3.0 * P, 3.0 * C)
    assert joint.imbalance == pytest.approx(base.imbalance, rel=1e-12)
    gauge = imbalance(3.0 * P, C / 3.0)
    assert abs(gauge.imbalance - base.imbalance) > 0.05


def test_zero_matrices_are_balanced_by_definition() -> None:
    result = imbalance(torch.zeros(4, 3), torch.zeros(2, 4))
    assert (result.imbalance, result.imbalance_diag) == (0.0, 0.0)


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(DiagnosticInputError):
        imbalance(torch.randn(4, 3), torch.randn(2, 5))
    with pytest.raises(DiagnosticInputError, match="non-finite"):
        imbalance(torch.tensor([[float("nan")]]), torch.ones(1, 1))
