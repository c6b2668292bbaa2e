"""The model summary block (DESIGN §2.7), computed from the per-layer results. Torch-free."""

from __future__ import annotations

from statistics import fmean

from workers.report import HeadSummary, JunctionResult, KindSummary, LayerResult, Summary

MLP_KINDS = ("mlp", "mlp_up", "mlp_gate")
"""Junction kinds behind a nonlinearity: the commutator gap compares these with ``ov``."""


def _mean(values: list[float]) -> float | None:
    return fmean(values) if values else None


def _nontrivial_overlap(j: JunctionResult) -> float | None:
    """Mean overlap(k) over rungs with k < n: at k = n both flags span the whole space."""
    values = [o for k, o in zip(j.flag.ladder, j.flag.overlap, strict=True) if k < j.n]
    return _mean(values)


def summarize(layers: list[LayerResult]) -> Summary:
    """Per-kind means of κ/κ₀, overlap and β; per-projection head excess; redundant pairs; the commutator gap."""
    by_kind: dict[str, list[JunctionResult]] = {}
    for layer in layers:
        for j in layer.junctions:
            by_kind.setdefault(j.kind, []).append(j)
    kinds = {
        kind: KindSummary(
            count=len(js),
            mean_kappa_ratio=_mean([j.kappa_ratio for j in js if j.kappa_ratio is not None]),
            mean_overlap=_mean([o for j in js if (o := _nontrivial_overlap(j)) is not None]),
            mean_imbalance=fmean(j.imbalance for j in js),
        )
        for kind, js in sorted(by_kind.items())
    }
    heads = {
        role: HeadSummary(mean_excess=fmean(excess))
        for role in ("q", "k", "v", "o")
        if (excess := [layer.heads[role].mean_excess for layer in layers if role in layer.heads])
    }
    redundant = sum(h.redundant_pairs for layer in layers for h in layer.heads.values())
    mlp_ratio = _mean([j.kappa_ratio for k in MLP_KINDS for j in by_kind.get(k, []) if j.kappa_ratio is not None])
    ov_ratio = _mean([j.kappa_ratio for j in by_kind.get("ov", []) if j.kappa_ratio is not None])
    gap = mlp_ratio - ov_ratio if mlp_ratio is not None and ov_ratio is not None else None
    return Summary(junctions=kinds, heads=heads, redundant_head_pairs=redundant, commutator_gap=gap)
