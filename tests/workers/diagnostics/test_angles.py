"""Principal angles and orthonormal bases against known answers."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.linalg import subspace_angles

from workers.diagnostics import DiagnosticInputError, orthonormal_basis, principal_angles


def _rotation(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))


def test_orthogonal_subspaces_give_right_angles() -> None:
    """Disjoint coordinate blocks, rotated together, are at π/2 exactly."""
    R = _rotation(8, 0)
    theta = principal_angles(R[:, :3], R[:, 3:6])
    torch.testing.assert_close(theta, torch.full((3,), math.pi / 2, dtype=torch.float64), atol=1e-14, rtol=0)


def test_subspace_with_itself_has_zero_angles() -> None:
    Q = _rotation(10, 1)[:, :4]
    assert float(principal_angles(Q, Q).max()) < 1e-14


def test_tiny_angles_are_resolved_where_arccos_fails() -> None:
    """An angle of 1e-10 rad: arccos(cos θ) rounds to 0, the sine formula keeps it."""
    eps = 1e-10
    QA = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    QB = torch.tensor([[math.cos(eps)], [math.sin(eps)]], dtype=torch.float64)
    theta = principal_angles(QA, QB)
    assert math.acos(min(1.0, math.cos(eps))) == 0.0
    assert abs(float(theta[0]) - eps) < 1e-20


def test_angles_match_scipy_and_are_symmetric() -> None:
    g = torch.Generator().manual_seed(2)
    A = torch.randn(12, 3, generator=g, dtype=torch.float64)
    B = torch.randn(12, 5, generator=g, dtype=torch.float64)
    ours = principal_angles(orthonormal_basis(A), orthonormal_basis(B))
    theirs = torch.from_numpy(subspace_angles(A.numpy(), B.numpy())).sort().values
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
    torch.testing.assert_close(principal_angles(orthonormal_basis(B), orthonormal_basis(A)), ours, atol=1e-14, rtol=0)


@pytest.mark.parametrize("planted", [1, 3, 8])
def test_planted_intersection_dimension_is_exact(planted: int) -> None:
    """Two 8-dim subspaces of R^64 sharing exactly `planted` directions have that many zero angles."""
    R = _rotation(64, planted)
    shared = R[:, :planted]
    QA = torch.cat([shared, R[:, planted:8]], dim=1)
    QB = torch.cat([shared, R[:, 8 : 16 - planted]], dim=1)
    theta = principal_angles(QA, QB)
    assert int((theta <= math.radians(10)).sum()) == planted
    assert float(theta[:planted].max()) < 1e-7
    torch.testing.assert_close(theta[planted:], torch.full((8 - planted,), math.pi / 2, dtype=torch.float64))


def test_orthonormal_basis_finds_rank_and_reconstructs() -> None:
    g = torch.Generator().manual_seed(3)
    W = torch.randn(20, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 7, generator=g, dtype=torch.float64)
    Q = orthonormal_basis(W)
    assert Q.shape == (20, 3)
    torch.testing.assert_close(Q.T @ Q, torch.eye(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(Q @ (Q.T @ W), W, atol=1e-10, rtol=0)


def test_orthonormal_basis_of_zero_matrix_is_empty() -> None:
    assert orthonormal_basis(torch.zeros(5, 3)).shape == (5, 0)


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(DiagnosticInputError, match="2-D"):
        orthonormal_basis(torch.zeros(3))
    with pytest.raises(DiagnosticInputError, match="non-finite"):
        orthonormal_basis(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(DiagnosticInputError, match="different spaces"):
        principal_angles(torch.eye(3)[:, :1], torch.eye(4)[:, :1])
    with pytest.raises(DiagnosticInputError, match="more columns"):
        principal_angles(torch.ones(2, 3), torch.eye(2))
