"""Flag alignment over the rank ladder against planted answers."""

from __future__ import annotations

import math

import pytest
import torch

from workers.diagnostics import DiagnosticInputError, flag_alignment, flag_alignment_from_bases, rank_ladder


def _rotation(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))


def test_rank_ladder_is_powers_of_two_then_r() -> None:
    assert rank_ladder(1) == [1]
    assert rank_ladder(8) == [1, 2, 4, 8]
    assert rank_ladder(12) == [1, 2, 4, 8, 12]
    assert rank_ladder(12, max_rank=5) == [1, 2, 4, 5]
    assert rank_ladder(0) == []


def test_perfectly_aligned_junction_has_full_overlap() -> None:
    """C = Pᵀ: the consumer reads exactly the producer's output flag."""
    g = torch.Generator().manual_seed(0)
    P = torch.randn(32, 8, generator=g, dtype=torch.float64)
    result = flag_alignment(P, P.T)
    assert result.ladder == [1, 2, 4, 8]
    assert result.overlap == pytest.approx([1.0] * 4, abs=1e-12)
    assert result.intersection_dim == [1, 2, 4, 8]
    assert result.baseline == [k / 32 for k in [1, 2, 4, 8]]
    assert result.relative_position == [[min(i, j) for j in [1, 2, 4, 8]] for i in [1, 2, 4, 8]]


@pytest.mark.parametrize("planted", [1, 3, 6])
def test_planted_shared_directions_give_that_intersection_dimension(planted: int) -> None:
    """Producer and consumer flags share `planted` leading directions, the rest orthogonal."""
    n, r = 64, 8
    R = _rotation(n, planted)
    U_P = R[:, :r]
    V_C = torch.cat([R[:, :planted], R[:, r : 2 * r - planted]], dim=1)
    result = flag_alignment_from_bases(U_P, V_C)
    assert result.ladder == [1, 2, 4, 8]
    assert result.intersection_dim == [min(k, planted) for k in result.ladder]
    assert result.overlap == pytest.approx([min(k, planted) / k for k in result.ladder], abs=1e-12)
    # r_ij = dim(F_i ∩ G_j) = min(i, j, planted) for this construction.
    assert result.relative_position == [[min(i, j, planted) for j in result.ladder] for i in result.ladder]


def test_planted_flag_through_singular_values() -> None:
    """Build P and C from chosen singular vectors; the SVD recovers the planted intersection of dimension 3."""
    n, r, planted = 48, 6, 3
    R = _rotation(n, 11)
    S = torch.linspace(3, 1, r, dtype=torch.float64)
    P = R[:, :r] @ torch.diag(S) @ _rotation(r, 12)
    V = torch.cat([R[:, :planted], R[:, r : 2 * r - planted]], dim=1)
    C = _rotation(r, 13) @ torch.diag(S) @ V.T
    assert flag_alignment(P, C).intersection_dim == [1, 2, 3, 3]


def test_tolerance_controls_intersection_count() -> None:
    """Two lines at 20°: intersecting at τ = 30°, not at τ = 10°."""
    angle = math.radians(20)
    U = torch.tensor([[1.0], [0.0], [0.0]], dtype=torch.float64)
    V = torch.tensor([[math.cos(angle)], [math.sin(angle)], [0.0]], dtype=torch.float64)
    assert flag_alignment_from_bases(U, V, tolerance_deg=10).intersection_dim == [0]
    assert flag_alignment_from_bases(U, V, tolerance_deg=30).intersection_dim == [1]
    assert flag_alignment_from_bases(U, V).overlap == pytest.approx([math.cos(angle) ** 2])


def test_random_flags_overlap_near_baseline() -> None:
    """Independent random k-subspaces of R^n overlap k/n on average."""
    n, k, trials = 200, 16, 30
    overlaps = []
    for seed in range(trials):
        g = torch.Generator().manual_seed(seed)
        P = torch.randn(n, k, generator=g, dtype=torch.float64)
        C = torch.randn(k, n, generator=g, dtype=torch.float64)
        overlaps.append(flag_alignment(P, C).overlap[-1])
    mean = sum(overlaps) / trials
    assert abs(mean - k / n) < 0.2 * k / n


def test_zero_matrix_gives_empty_ladder() -> None:
    result = flag_alignment(torch.zeros(5, 3), torch.randn(4, 5))
    assert result.ladder == [] and result.overlap == [] and result.relative_position == []


def test_hidden_width_smaller_than_ladder_is_capped() -> None:
    """n = 3 < m: the ladder stops at the effective rank, 3."""
    result = flag_alignment(torch.randn(3, 10), torch.randn(10, 3))
    assert result.ladder == [1, 2, 3]
    assert result.intersection_dim[-1] == 3


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(DiagnosticInputError, match="writes"):
        flag_alignment(torch.randn(5, 3), torch.randn(3, 4))
    with pytest.raises(DiagnosticInputError, match="tolerance"):
        flag_alignment(torch.randn(5, 3), torch.randn(3, 5), tolerance_deg=0)
    with pytest.raises(DiagnosticInputError, match="non-finite"):
        flag_alignment(torch.randn(5, 3), torch.tensor([[float("nan")] * 5]))


def test_batched_and_sliced_relative_positions_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both r_ij strategies (one padded batch, or a slice per block with Frobenius pruning) give the same matrix."""
    import workers.diagnostics.flag as flag_module

    g = torch.Generator().manual_seed(21)
    n, r, planted = 96, 24, 5
    R = _rotation(n, 22)
    noise = 0.005 * torch.randn(n, r, generator=g, dtype=torch.float64)  # ~3° of tilt per column
    U_P, _ = torch.linalg.qr(R[:, :r] + noise)
    V_C, _ = torch.linalg.qr(torch.cat([R[:, :planted], R[:, r : 2 * r - planted]], dim=1))
    batched = flag_alignment_from_bases(U_P, V_C)
    monkeypatch.setattr(flag_module, "BATCHED_LADDER_MAX", 1)
    sliced = flag_alignment_from_bases(U_P, V_C)
    assert batched == sliced
    assert batched.intersection_dim[-1] == planted


def test_tiny_tolerance_uses_sine_formula_angles() -> None:
    """At τ = 1e-9° cosines cannot resolve τ: exact shared directions count, 1e-6 rad apart do not."""
    eps = 1e-6
    U = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    V = torch.tensor([[1.0, 0.0], [0.0, math.cos(eps)], [0.0, math.sin(eps)]], dtype=torch.float64)
    assert flag_alignment_from_bases(U, V, tolerance_deg=1e-9).intersection_dim == [1, 1]
    assert flag_alignment_from_bases(U, V, tolerance_deg=1e-3).intersection_dim == [1, 2]
