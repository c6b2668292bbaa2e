"""Model-card snippet from a report: YAML front-matter keys under ``flagscan:`` plus a short markdown section."""

from __future__ import annotations

import json

from workers.report import Report

KIND_LABELS = {
    "mlp": "MLP (up → act → down)",
    "mlp_up": "gated MLP, up branch",
    "mlp_gate": "gated MLP, gate branch",
    "ov": "attention OV (per head)",
    "qk": "attention QK (per head)",
    "residual": "residual stream (write → norm → read)",
}


def _num(value: float | None, digits: int = 4) -> str:
    return "null" if value is None else f"{value:.{digits}g}"


def front_matter(report: Report) -> str:
    """YAML lines (without the ``---`` fences) to merge into a model card's metadata."""
    s = report.summary
    lines = [
        "flagscan:",
        f"  engine_version: {json.dumps(report.engine_version)}",
        f"  model: {json.dumps(report.model.id)}",
        f"  commit: {json.dumps(report.model.commit_sha)}",
        f"  commutator_gap: {_num(s.commutator_gap)}",
        f"  redundant_head_pairs: {s.redundant_head_pairs}",
        "  kappa_ratio:",
        *(f"    {kind}: {_num(k.mean_kappa_ratio)}" for kind, k in s.junctions.items()),
        "  imbalance:",
        *(f"    {kind}: {_num(k.mean_imbalance)}" for kind, k in s.junctions.items()),
    ]
    if s.heads:
        lines += ["  head_overlap_excess:", *(f"    {p}: {_num(h.mean_excess)}" for p, h in s.heads.items())]
    return "\n".join(lines)


def markdown_summary(report: Report) -> str:
    """A short markdown section: the summary table and how to read it."""
    s = report.summary
    m = report.model
    rows = [
        f"| {KIND_LABELS.get(kind, kind)} | {k.count} | {_num(k.mean_kappa_ratio, 3)} | "
        f"{_num(k.mean_overlap, 3)} | {_num(k.mean_imbalance, 3)} |"
        for kind, k in s.junctions.items()
    ]
    heads = ", ".join(f"{p}: {h.mean_excess:+.3f}" for p, h in s.heads.items()) or "n/a"
    gap = "n/a" if s.commutator_gap is None else f"{s.commutator_gap:+.3f}"
    sha = (m.commit_sha or "local")[:12]
    return "\n".join(
        [
            "## Layerwise alignment (flagscan)",
            "",
            f"Weight-space diagnostics of arXiv 2605.09861 for `{m.id}` at `{sha}` "
            f"({m.architecture}, {m.num_layers} layers), flagscan engine {report.engine_version}.",
            "",
            "| junction | count | κ/κ₀ | flag overlap | imbalance β |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"- Commutator gap (mean κ/κ₀ of MLP minus attention OV): **{gap}**",
            f"- Head-overlap excess over random (by projection): {heads}",
            f"- Redundant head pairs (smallest principal angle ≤ {report.options.tolerance_deg:g}°): "
            f"{s.redundant_head_pairs}",
            "",
            "κ/κ₀ = 1 is what a random rotation of the consumer would give; below 1 means shared eigenbases.",
        ]
    )


def model_card(report: Report) -> str:
    """Front matter fenced by ``---`` followed by the markdown section."""
    return f"---\n{front_matter(report)}\n---\n\n{markdown_summary(report)}\n"
