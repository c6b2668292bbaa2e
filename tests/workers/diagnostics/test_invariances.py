"""Property tests: function-preserving reparameterisations leave the diagnostics unchanged (DESIGN §2.6)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.diagnostics import commutator, flag_alignment, head_bases, head_overlap, imbalance, subspace_overlap

SETTINGS = settings(max_examples=25, deadline=None)

junctions = st.tuples(
    st.integers(0, 2**31 - 1),  # seed
    st.integers(2, 48),  # n (hidden width)
    st.integers(1, 24),  # m
    st.integers(1, 24),  # p
)


def _junction(seed: int, n: int, m: int, p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
    g = torch.Generator().manual_seed(seed)
    P = torch.randn(n, m, generator=g, dtype=torch.float64)
    C = torch.randn(p, n, generator=g, dtype=torch.float64) * (torch.rand(n, generator=g, dtype=torch.float64) + 0.2)
    return P, C, g


def _rotation(n: int, g: torch.Generator) -> torch.Tensor:
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))


def _assert_junction_equal(P: torch.Tensor, C: torch.Tensor, P2: torch.Tensor, C2: torch.Tensor, diag: bool) -> None:
    c1, c2 = commutator(P, C), commutator(P2, C2)
    assert c2.kappa == pytest.approx(c1.kappa, rel=1e-6, abs=1e-7)
    assert c2.kappa_null == pytest.approx(c1.kappa_null, rel=1e-6, abs=1e-7)
    b1, b2 = imbalance(P, C), imbalance(P2, C2)
    assert b2.imbalance == pytest.approx(b1.imbalance, rel=1e-6, abs=1e-7)
    if diag:
        assert b2.imbalance_diag == pytest.approx(b1.imbalance_diag, rel=1e-9, abs=1e-12)
    f1, f2 = flag_alignment(P, C), flag_alignment(P2, C2)
    assert f2.ladder == f1.ladder
    assert f2.overlap == pytest.approx(f1.overlap, abs=1e-8)


@SETTINGS
@given(junctions)
def test_hidden_unit_permutation_changes_nothing(case: tuple[int, int, int, int]) -> None:
    """Permuting P's rows and C's columns together (any junction, nonlinear included)."""
    P, C, g = _junction(*case)
    perm = torch.randperm(P.shape[0], generator=g)
    _assert_junction_equal(P, C, P[perm], C[:, perm], diag=True)


@SETTINGS
@given(junctions)
def test_orthogonal_rotation_of_linear_junction_changes_nothing(case: tuple[int, int, int, int]) -> None:
    """P → R P, C → C Rᵀ keeps C P. β_diag is basis-dependent by design and is not compared."""
    P, C, g = _junction(*case)
    R = _rotation(P.shape[0], g)
    _assert_junction_equal(P, C, R @ P, C @ R.T, diag=False)


@SETTINGS
@given(junctions, st.floats(1e-3, 1e3))
def test_global_rescaling_leaves_kappa_and_overlap(case: tuple[int, int, int, int], scale: float) -> None:
    """κ, κ₀ and flag overlaps are scale-free, also under the gauge P → cP, C → C/c; β only under a joint scale."""
    P, C, _ = _junction(*case)
    _assert_junction_equal(P, C, scale * P, scale * C, diag=True)
    c1, c2 = commutator(P, C), commutator(scale * P, C / scale)
    assert c2.kappa == pytest.approx(c1.kappa, rel=1e-6, abs=1e-7)
    assert flag_alignment(scale * P, C / scale).overlap == pytest.approx(flag_alignment(P, C).overlap, abs=1e-8)


heads_cases = st.tuples(st.integers(0, 2**31 - 1), st.integers(2, 6), st.integers(1, 6), st.integers(8, 40))


def _heads(seed: int, H: int, dh: int, d: int) -> tuple[torch.Tensor, torch.Generator]:
    g = torch.Generator().manual_seed(seed)
    spans = torch.randn(H, d, dh, generator=g, dtype=torch.float64)
    # Make heads 0 and 1 partly share a direction so the matrix is not trivially near baseline.
    spans[1, :, 0] = spans[0, :, 0] + 0.1 * spans[1, :, 0]
    return spans, g


@SETTINGS
@given(heads_cases)
def test_head_permutation_permutes_the_matrix(case: tuple[int, int, int, int]) -> None:
    spans, g = _heads(*case)
    perm = torch.randperm(spans.shape[0], generator=g)
    r1, r2 = head_overlap(head_bases(spans)), head_overlap(head_bases(spans[perm]))
    M1, M2 = torch.tensor(r1.overlap), torch.tensor(r2.overlap)
    torch.testing.assert_close(M2, M1[perm][:, perm], atol=1e-9, rtol=0)
    assert r2.mean_excess == pytest.approx(r1.mean_excess, abs=1e-9)
    assert r2.redundant_pairs == r1.redundant_pairs


@SETTINGS
@given(heads_cases, st.floats(1e-2, 1e2))
def test_invertible_map_inside_a_head_and_rescaling_change_nothing(
    case: tuple[int, int, int, int], scale: float
) -> None:
    """W_Q^h → G W_Q^h keeps the head's row space: spans[h] → spans[h] Gᵀ; a global scale does nothing either."""
    spans, g = _heads(*case)
    dh = spans.shape[2]
    G = torch.randn(dh, dh, generator=g, dtype=torch.float64) + 2 * dh * torch.eye(dh, dtype=torch.float64)
    mixed = spans.clone()
    mixed[0] = spans[0] @ G.T
    r1, r2 = head_overlap(head_bases(spans)), head_overlap(head_bases(scale * mixed))
    torch.testing.assert_close(torch.tensor(r2.overlap), torch.tensor(r1.overlap), atol=1e-8, rtol=0)
    assert r2.redundant_pairs == r1.redundant_pairs


@SETTINGS
@given(heads_cases)
def test_rotation_of_residual_stream_leaves_head_overlap_and_composition(case: tuple[int, int, int, int]) -> None:
    """Rotating R^{d_model} (all reads and writes) preserves every head overlap and composition."""
    spans, g = _heads(*case)
    R = _rotation(spans.shape[1], g)
    writes = torch.flip(spans, dims=[0])
    r1, r2 = head_overlap(head_bases(spans)), head_overlap(head_bases(R @ spans))
    torch.testing.assert_close(torch.tensor(r2.overlap), torch.tensor(r1.overlap), atol=1e-9, rtol=0)
    c1 = subspace_overlap(head_bases(writes), head_bases(spans))
    c2 = subspace_overlap(head_bases(R @ writes), head_bases(R @ spans))
    torch.testing.assert_close(c2, c1, atol=1e-9, rtol=0)
