"""Head subspace overlap and composition against planted answers."""

from __future__ import annotations

import math

import pytest
import torch

from workers.diagnostics import DiagnosticInputError, head_bases, head_overlap, subspace_overlap


def _rotation(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))


def test_disjoint_heads_have_zero_overlap_and_negative_excess() -> None:
    """Heads spanning disjoint blocks of a rotated basis: overlap 0, excess −b/(1−b)."""
    d, H, dh = 32, 4, 8
    R = _rotation(d, 0)
    spans = torch.stack([R[:, h * dh : (h + 1) * dh] for h in range(H)])
    result = head_overlap(head_bases(spans))
    assert result.max_overlap < 1e-12
    assert result.baseline == pytest.approx(dh / d)
    assert result.mean_excess == pytest.approx(-(dh / d) / (1 - dh / d))
    assert result.redundant_pairs == 0
    assert all(result.overlap[h][h] == pytest.approx(1.0) for h in range(H))


@pytest.mark.parametrize("planted", [1, 3, 8])
def test_planted_shared_directions_between_two_heads(planted: int) -> None:
    """Heads 0 and 1 share `planted` of their d_head = 8 directions: overlap planted/8, one redundant pair."""
    d, dh = 64, 8
    R = _rotation(d, planted)
    head0 = R[:, :dh]
    head1 = torch.cat([R[:, :planted], R[:, dh : 2 * dh - planted]], dim=1)
    head2 = R[:, 2 * dh : 3 * dh]
    G = torch.randn(dh, dh, dtype=torch.float64) + 3 * torch.eye(dh, dtype=torch.float64)
    spans = torch.stack([head0 @ G, head1, head2])  # an invertible mix inside head 0 changes nothing
    result = head_overlap(head_bases(spans))
    assert result.overlap[0][1] == pytest.approx(planted / dh, abs=1e-10)
    assert result.overlap[1][0] == pytest.approx(planted / dh, abs=1e-10)
    assert result.overlap[0][2] == pytest.approx(0.0, abs=1e-12)
    assert result.redundant_pairs == 1
    assert result.max_overlap == pytest.approx(planted / dh, abs=1e-10)


def test_random_heads_overlap_at_baseline() -> None:
    """Random d_head-subspaces of R^d overlap d_head/d on average: excess ≈ 0."""
    g = torch.Generator().manual_seed(4)
    H, d, dh = 16, 256, 16
    result = head_overlap(head_bases(torch.randn(H, d, dh, generator=g, dtype=torch.float64)))
    assert result.mean_overlap == pytest.approx(dh / d, rel=0.1)
    assert abs(result.mean_excess) < 0.01


def test_rank_cutoff_and_zero_heads() -> None:
    """A rank-2 head is measured with r = 2; a zero head has rank 0 and overlap 0 with everyone."""
    d = 16
    R = _rotation(d, 5)
    low = torch.cat([R[:, :2], R[:, :2] @ torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)], dim=1)
    full = R[:, :4]
    zero = torch.zeros(d, 4, dtype=torch.float64)
    bases = head_bases(torch.stack([low, full, zero]))
    assert bases.ranks == [2, 4, 0]
    result = head_overlap(bases)
    assert result.overlap[0][1] == pytest.approx(1.0)  # span(low) ⊂ span(full): normalised by min rank
    assert result.overlap[2][0] == 0.0 and result.overlap[2][2] == 0.0


def test_composition_between_layers() -> None:
    """Layer l's o-head writes exactly where layer l+1's q-head 1 reads: composition 1 there, 0 elsewhere."""
    d, dh = 32, 4
    R = _rotation(d, 6)
    o_heads = head_bases(torch.stack([R[:, :dh], R[:, dh : 2 * dh]]))
    q_heads = head_bases(torch.stack([R[:, 2 * dh : 3 * dh], R[:, :dh] @ _rotation(dh, 7), R[:, 3 * dh : 4 * dh]]))
    comp = subspace_overlap(o_heads, q_heads)
    assert comp.shape == (2, 3)
    expected = torch.zeros(2, 3, dtype=torch.float64)
    expected[0, 1] = 1.0
    torch.testing.assert_close(comp, expected, atol=1e-12, rtol=0)


def test_tolerance_controls_redundancy() -> None:
    """Two 1-dim heads 20° apart are redundant at τ = 30° only."""
    a = math.radians(20)
    spans = torch.tensor([[[1.0], [0.0], [0.0]], [[math.cos(a)], [math.sin(a)], [0.0]]], dtype=torch.float64)
    bases = head_bases(spans)
    assert head_overlap(bases).redundant_pairs == 0
    assert head_overlap(bases, tolerance_deg=30).redundant_pairs == 1


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(DiagnosticInputError, match="at least 2 heads"):
        head_overlap(head_bases(torch.randn(1, 8, 2)))
    with pytest.raises(DiagnosticInputError, match="H, d, d_head"):
        head_bases(torch.randn(8, 2))
    with pytest.raises(DiagnosticInputError, match="non-finite"):
        head_bases(torch.full((2, 4, 2), float("nan")))
    with pytest.raises(DiagnosticInputError, match="R\\^8 and R\\^9"):
        subspace_overlap(head_bases(torch.randn(2, 8, 2)), head_bases(torch.randn(2, 9, 2)))
