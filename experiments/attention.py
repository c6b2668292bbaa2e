"""Experiment 4: κ/κ₀ at the linear ``ov`` junctions against the nonlinear ``mlp`` junction, and head overlap.

A one-block transformer (d_model 32, 4 heads of 8, GELU MLP of width 128) learns the toy histogram
task (`experiments._transformer`). Through training we record, with `workers.diagnostics`, κ/κ₀ and
β per junction (``ov`` and ``qk`` per head, ``mlp``) and the head-subspace overlap of q, k, v and o.
Two optimisers are compared: AdamW (the usual choice for transformers, which breaks the SGD balance
law) and plain SGD with L2 weight decay (under which ``ov`` and ``qk`` are balanced linear junctions).

Run ``python -m experiments.attention [--out DIR] [--workers N]``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from experiments._output import mean_std, new_figure, parse_args, save_figure, write_csv
from experiments._runner import run_jobs
from experiments._transformer import OneBlockTransformer, head_spans, histogram_batch, junction_weights
from workers.diagnostics import commutator, head_bases, head_overlap, imbalance

NAME = "attention"
VOCAB, SEQ_LEN = 16, 10
D_MODEL, N_HEADS, D_FF = 32, 4, 128
BATCH = 128
OPTIMIZERS: dict[str, dict[str, float]] = {
    "adamw": {"lr": 3e-3, "weight_decay": 0.1},
    "sgd-wd1e-3": {"lr": 0.1, "weight_decay": 1e-3},
    "sgd-wd1e-2": {"lr": 0.1, "weight_decay": 1e-2},
}
"""Optimiser settings: AdamW's decoupled decay, and SGD (no momentum) with L2 decay at two strengths:
1e-3 learns the task but gives ηλT = 0.3 over the run, too little for balance to set in; 1e-2 gives
ηλT = 3 but over-regularises the attention."""
STEPS = 3000
RECORD_EVERY = 200
SEEDS: tuple[int, ...] = (0, 1, 2)
KINDS: tuple[str, ...] = ("ov", "qk", "mlp")
PROJECTIONS: tuple[str, ...] = ("q", "k", "v", "o")
FINAL_WINDOW = 0.1
"""Settled values: mean over the last 10% of the records."""


@dataclass
class AttentionRun:
    """Per record step: loss, accuracy, per-kind junction means and per-projection head overlap."""

    optimizer: str
    seed: int
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    kappa_ratio: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    beta: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    head_excess: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in PROJECTIONS})
    head_overlap: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in PROJECTIONS})
    head_baseline: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in PROJECTIONS})

    def settled(self, series: list[float], window: float = FINAL_WINDOW) -> float:
        """Mean of ``series`` over the last ``window`` fraction of the records."""
        start = min(int(len(series) * (1.0 - window)), len(series) - 1)
        return float(np.mean(series[start:]))


def _record(
    run: AttentionRun, model: OneBlockTransformer, step: int, tokens: torch.Tensor, counts: torch.Tensor
) -> None:
    """Append the loss, accuracy, junction diagnostics and head overlaps at ``step`` to ``run``."""
    with torch.no_grad():
        logits = model(tokens)
        run.loss.append(float(F.cross_entropy(logits.flatten(0, 1), counts.flatten())))
        run.accuracy.append(float((logits.argmax(-1) == counts).float().mean()))
    run.steps.append(step)
    per_kind: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    for kind, _head, P, C in junction_weights(model):
        ratio = commutator(P, C).kappa_ratio
        per_kind[kind].append((np.nan if ratio is None else ratio, imbalance(P, C).imbalance))
    for kind, values in per_kind.items():
        run.kappa_ratio[kind].append(float(np.nanmean([v[0] for v in values])))
        run.beta[kind].append(float(np.mean([v[1] for v in values])))
    for t in PROJECTIONS:
        summary = head_overlap(head_bases(head_spans(model, t)))
        run.head_excess[t].append(summary.mean_excess)
        run.head_overlap[t].append(summary.mean_overlap)
        run.head_baseline[t].append(summary.baseline)


def run_attention(
    *, optimizer: str, seed: int = 0, steps: int = STEPS, record_every: int = RECORD_EVERY, batch: int = BATCH
) -> AttentionRun:
    """Train one transformer on fresh histogram batches and record its junctions and heads."""
    model = OneBlockTransformer(vocab=VOCAB, seq_len=SEQ_LEN, d_model=D_MODEL, n_heads=N_HEADS, d_ff=D_FF, seed=seed)
    settings = OPTIMIZERS[optimizer]
    if optimizer.startswith("adamw"):
        opt: torch.optim.Optimizer = torch.optim.AdamW(model.parameters(), **settings)
    else:
        opt = torch.optim.SGD(model.parameters(), momentum=0.0, **settings)
    g = torch.Generator().manual_seed(30_000 + seed)
    eval_tokens, eval_counts = histogram_batch(1024, SEQ_LEN, VOCAB, torch.Generator().manual_seed(40_000 + seed))
    run = AttentionRun(optimizer, seed)
    for step in range(steps + 1):
        if step % record_every == 0 or step == steps:
            _record(run, model, step, eval_tokens, eval_counts)
        if step == steps:
            break
        tokens, counts = histogram_batch(batch, SEQ_LEN, VOCAB, g)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(tokens).flatten(0, 1), counts.flatten()).backward()
        opt.step()
    return run


def run_all(
    optimizers: Sequence[str] = tuple(OPTIMIZERS), seeds: Sequence[int] = SEEDS, workers: int = 2, **kwargs: object
) -> list[AttentionRun]:
    """Every (optimiser, seed)."""
    jobs = [{"optimizer": o, "seed": s, **kwargs} for o in optimizers for s in seeds]
    return run_jobs(run_attention, jobs, workers)


def record_rows(runs: Sequence[AttentionRun]) -> list[dict[str, object]]:
    """One CSV row per (run, record step): junction-kind means and head-overlap statistics."""
    return [
        {"optimizer": r.optimizer, "seed": r.seed, "step": step, "loss": r.loss[i], "accuracy": r.accuracy[i]}
        | {f"kappa_ratio_{k}": r.kappa_ratio[k][i] for k in KINDS}
        | {f"beta_{k}": r.beta[k][i] for k in KINDS}
        | {f"head_overlap_{t}": r.head_overlap[t][i] for t in PROJECTIONS}
        | {f"head_excess_{t}": r.head_excess[t][i] for t in PROJECTIONS}
        for r in runs
        for i, step in enumerate(r.steps)
    ]


def summary_rows(runs: Sequence[AttentionRun]) -> list[dict[str, object]]:
    """Per optimiser: settled κ/κ₀ and β per kind, the mlp − ov gap, head excess and accuracy (mean ± std)."""
    rows = []
    for opt in dict.fromkeys(r.optimizer for r in runs):
        group = [r for r in runs if r.optimizer == opt]
        row: dict[str, object] = {"optimizer": opt, "n_seeds": len(group)}
        for k in KINDS:
            kappas = [r.settled(r.kappa_ratio[k]) for r in group]
            row[f"kappa_ratio_{k}"], row[f"kappa_ratio_{k}_std"] = mean_std(kappas)
            row[f"beta_{k}"], row[f"beta_{k}_std"] = mean_std([r.settled(r.beta[k]) for r in group])
        gaps = [r.settled(r.kappa_ratio["mlp"]) - r.settled(r.kappa_ratio["ov"]) for r in group]
        row["gap_mlp_minus_ov"], row["gap_mlp_minus_ov_std"] = mean_std(gaps)
        row["gap_positive_seeds"] = sum(g > 0 for g in gaps)
        for t in PROJECTIONS:
            excess = [r.settled(r.head_excess[t]) for r in group]
            row[f"head_excess_{t}"], row[f"head_excess_{t}_std"] = mean_std(excess)
        row["accuracy"], row["accuracy_std"] = mean_std([r.accuracy[-1] for r in group])
        rows.append(row)
    return rows


_KIND_COLORS = {"ov": "tab:blue", "qk": "tab:green", "mlp": "tab:red"}
_PROJ_COLORS = {"q": "tab:blue", "k": "tab:green", "v": "tab:orange", "o": "tab:purple"}


def plot_runs(runs: Sequence[AttentionRun], path: object) -> None:
    """Per optimiser: κ/κ₀ per kind, head-overlap excess per projection, and accuracy, against step."""
    optimizers = list(dict.fromkeys(r.optimizer for r in runs))
    fig, axes = new_figure(ncols=3, nrows=len(optimizers), width=3.8, height=3.0)
    for row, opt in enumerate(optimizers):
        ax_k, ax_h, ax_a = axes[row]
        for r in runs:
            if r.optimizer != opt:
                continue
            first = r.seed == min(x.seed for x in runs)
            for k in KINDS:
                ax_k.plot(r.steps, r.kappa_ratio[k], color=_KIND_COLORS[k], lw=1, label=k if first else None)
            for t in PROJECTIONS:
                ax_h.plot(r.steps, r.head_excess[t], color=_PROJ_COLORS[t], lw=1, label=t if first else None)
            ax_a.plot(r.steps, r.accuracy, color="black", lw=1)
        ax_k.set_yscale("log")
        ax_k.set_title(f"{opt}: κ/κ₀ (mean over heads)", fontsize=9)
        ax_h.axhline(0.0, color="gray", ls=":", lw=1)
        ax_h.set_title(f"{opt}: head-overlap excess", fontsize=9)
        ax_a.set_title(f"{opt}: held-out accuracy", fontsize=9)
        ax_a.set_ylim(0, 1.02)
        for ax in (ax_k, ax_h, ax_a):
            ax.set_xlabel("step")
        ax_k.legend(fontsize=7)
        ax_h.legend(fontsize=7)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the experiment, write the CSVs and figure, print the summary table."""
    args = parse_args(NAME, argv, __doc__.splitlines()[0])
    start = time.time()
    runs = run_all(workers=args.workers)
    write_csv(args.out / f"{NAME}.csv", record_rows(runs))
    summary = summary_rows(runs)
    write_csv(args.out / f"{NAME}_summary.csv", summary)
    plot_runs(runs, args.out / f"{NAME}_runs.png")
    print(
        f"attention: one block, d_model {D_MODEL}, {N_HEADS} heads, d_ff {D_FF}, histogram task "
        f"(vocab {VOCAB}, length {SEQ_LEN}), {STEPS} steps of batch {BATCH}, seeds {list(SEEDS)}, {OPTIMIZERS}"
    )
    for row in summary:
        kappas = "  ".join(f"{k} {row[f'kappa_ratio_{k}']:.3f}±{row[f'kappa_ratio_{k}_std']:.3f}" for k in KINDS)
        betas = "  ".join(f"{k} {row[f'beta_{k}']:.3f}" for k in KINDS)
        heads = "  ".join(f"{t} {row[f'head_excess_{t}']:+.3f}" for t in PROJECTIONS)
        print(f"{row['optimizer']:>10}  κ/κ₀: {kappas}  | β: {betas}")
        print(
            f"{'':>10}  gap mlp−ov {row['gap_mlp_minus_ov']:+.3f} ± {row['gap_mlp_minus_ov_std']:.3f} "
            f"(>0 in {row['gap_positive_seeds']}/{row['n_seeds']} seeds) | head excess: {heads}"
            f" | accuracy {row['accuracy']:.3f} ± {row['accuracy_std']:.3f}"
        )
    print(f"wrote {args.out} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
