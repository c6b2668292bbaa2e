"""Experiment 3: flag alignment of adjacent layers rises during training, and more with weight decay.

Deep linear and ReLU networks are trained as in experiment 1 at λ ∈ {0, 1e-3, 1e-2}; at every record
step each junction's `workers.diagnostics.flag_alignment` gives overlap(k) = mean cos²θ over the top-k
flags (random baseline k/n) and dim_τ(k), the number of principal angles ≤ τ = 10°, on the ladder
k = 1, 2, 4, …, r. The teacher has rank 4, so k ≤ 4 are the modes the data drives and k > 4 the bulk.

Run ``python -m experiments.alignment [--out DIR] [--workers N]``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experiments._output import mean_std, new_figure, parse_args, save_figure, write_csv
from experiments._runner import run_jobs
from experiments._training import DeepMLP, junctions, make_regression_task, train_sgd
from workers.diagnostics import FlagAlignment, flag_alignment

NAME = "alignment"
DEPTH, WIDTH = 4, 64
ACTIVATION_NAMES: tuple[str, ...] = ("identity", "relu")
WEIGHT_DECAYS: tuple[float, ...] = (0.0, 1e-3, 1e-2)
LR = 0.05
WARMUP_STEPS = 300
STEPS = 6000
RECORD_EVERY = 250
SEEDS: tuple[int, ...] = (0, 1, 2)
N_SAMPLES = 256
TEACHER_RANK = 4
"""Rank of the regression teacher (`make_regression_task` default): the data-driven modes."""
REPORT_KS: tuple[int, ...] = (1, 4, 16)
"""Ladder rungs reported in the summary (present on every junction: the end layers have rank 16)."""


@dataclass(frozen=True)
class AlignmentRun:
    """Per record step the loss and, per junction, the flag alignment."""

    activation: str
    weight_decay: float
    seed: int
    steps: list[int]
    loss: list[float]
    flags: list[list[FlagAlignment]]

    def value(self, record: int, junction: int, k: int, field: str = "overlap") -> float:
        """``field`` (overlap, baseline or intersection_dim) at rung ``k``; NaN when k is off the ladder."""
        fa = self.flags[record][junction]
        return float(getattr(fa, field)[fa.ladder.index(k)]) if k in fa.ladder else float("nan")

    def mean_over_junctions(self, record: int, k: int, field: str = "overlap") -> float:
        """``value`` averaged over the junctions that have rung ``k``."""
        return float(np.nanmean([self.value(record, j, k, field) for j in range(len(self.flags[record]))]))


def run_alignment(
    *,
    activation: str,
    weight_decay: float,
    seed: int = 0,
    depth: int = DEPTH,
    width: int = WIDTH,
    lr: float = LR,
    steps: int = STEPS,
    record_every: int = RECORD_EVERY,
    n_samples: int = N_SAMPLES,
    warmup_steps: int = WARMUP_STEPS,
) -> AlignmentRun:
    """Train one network with full-batch SGD and record the flag alignment of every junction."""
    task = make_regression_task(n_samples=n_samples, seed=seed, teacher_rank=TEACHER_RANK)
    model = DeepMLP(
        d_in=task.X.shape[1], width=width, d_out=task.Y.shape[1], depth=depth, activation=activation, seed=seed
    )
    steps_seen: list[int] = []
    losses: list[float] = []
    flags: list[list[FlagAlignment]] = []

    def record(step: int, loss: float) -> None:
        steps_seen.append(step)
        losses.append(loss)
        flags.append([flag_alignment(P, C) for _, P, C in junctions(model)])

    train_sgd(
        model,
        task,
        lr=lr,
        weight_decay=weight_decay,
        steps=steps,
        record_every=record_every,
        record=record,
        warmup_steps=warmup_steps,
        seed=seed,
    )
    return AlignmentRun(activation, weight_decay, seed, steps_seen, losses, flags)


def run_all(
    activations: Sequence[str] = ACTIVATION_NAMES,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    seeds: Sequence[int] = SEEDS,
    workers: int = 2,
    **kwargs: object,
) -> list[AlignmentRun]:
    """Every (activation, λ, seed)."""
    jobs = [
        {"activation": a, "weight_decay": wd, "seed": s, **kwargs}
        for a in activations
        for wd in weight_decays
        for s in seeds
    ]
    return run_jobs(run_alignment, jobs, workers)


def record_rows(runs: Sequence[AlignmentRun]) -> list[dict[str, object]]:
    """One CSV row per (run, record step, junction, ladder rung)."""
    return [
        {
            "activation": r.activation,
            "weight_decay": r.weight_decay,
            "seed": r.seed,
            "step": step,
            "junction": j,
            "k": k,
            "overlap": fa.overlap[i],
            "baseline": fa.baseline[i],
            "intersection_dim": fa.intersection_dim[i],
            "loss": r.loss[t],
        }
        for r in runs
        for t, step in enumerate(r.steps)
        for j, fa in enumerate(r.flags[t])
        for i, k in enumerate(fa.ladder)
    ]


def summary_rows(runs: Sequence[AlignmentRun]) -> list[dict[str, object]]:
    """Per (activation, λ, k): final overlap, baseline and dim_τ as mean ± std over seeds, and at step 0."""
    rows = []
    for a in dict.fromkeys(r.activation for r in runs):
        for wd in sorted({r.weight_decay for r in runs}):
            group = [r for r in runs if r.activation == a and r.weight_decay == wd]
            for k in REPORT_KS:
                initial = [r.mean_over_junctions(0, k) for r in group]
                final = [r.mean_over_junctions(-1, k) for r in group]
                dims = [r.mean_over_junctions(-1, k, "intersection_dim") for r in group]
                rows.append(
                    {
                        "activation": a,
                        "weight_decay": wd,
                        "k": k,
                        "baseline": group[0].mean_over_junctions(-1, k, "baseline"),
                        "initial_overlap_mean": mean_std(initial)[0],
                        "final_overlap_mean": mean_std(final)[0],
                        "final_overlap_seed_std": mean_std(final)[1],
                        "final_dim_tau_mean": mean_std(dims)[0],
                        "final_dim_tau_seed_std": mean_std(dims)[1],
                        "n_seeds": len(group),
                    }
                )
    return rows


_WD_COLORS = {0.0: "black", 1e-3: "tab:orange", 1e-2: "tab:red"}


def plot_overlap_curves(runs: Sequence[AlignmentRun], path: object) -> None:
    """Junction-mean overlap(k) against step for k in `REPORT_KS`, per activation and λ (seed 0)."""
    activations = list(dict.fromkeys(r.activation for r in runs))
    fig, axes = new_figure(ncols=len(REPORT_KS), nrows=len(activations), width=3.8, height=3.0)
    seed = min(r.seed for r in runs)
    for row, a in enumerate(activations):
        for col, k in enumerate(REPORT_KS):
            ax = axes[row][col]
            for r in runs:
                if r.activation != a or r.seed != seed:
                    continue
                ys = [r.mean_over_junctions(t, k) for t in range(len(r.steps))]
                ax.plot(r.steps, ys, color=_WD_COLORS.get(r.weight_decay, "gray"), label=f"λ={r.weight_decay:g}")
            base = next(r for r in runs if r.activation == a).mean_over_junctions(0, k, "baseline")
            ax.axhline(base, color="gray", ls=":", lw=1, label="random k/n")
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{a}, overlap(k={k})", fontsize=9)
            ax.set_xlabel("step")
            if col == 0:
                ax.legend(fontsize=7)
    save_figure(fig, path)


def plot_final_ladder(runs: Sequence[AlignmentRun], path: object) -> None:
    """Final overlap(k) and dim_τ(k)/k against k for the interior junction, mean ± std over seeds."""
    activations = list(dict.fromkeys(r.activation for r in runs))
    fig, axes = new_figure(ncols=2, width=4.5, height=3.4)
    junction = 1
    for a, ls in zip(activations, ("-", "--"), strict=False):
        for wd in sorted({r.weight_decay for r in runs}):
            group = [r for r in runs if r.activation == a and r.weight_decay == wd]
            ladder = group[0].flags[-1][junction].ladder
            for ax, field in zip(axes[0], ("overlap", "intersection_dim"), strict=True):
                vals = np.array([[r.value(-1, junction, k, field) for k in ladder] for r in group])
                if field == "intersection_dim":
                    vals = vals / np.array(ladder)
                ax.errorbar(
                    ladder,
                    np.nanmean(vals, axis=0),
                    yerr=np.nanstd(vals, axis=0),
                    ls=ls,
                    marker="o",
                    ms=3,
                    color=_WD_COLORS.get(wd, "gray"),
                    label=f"{a} λ={wd:g}",
                    capsize=2,
                )
    baseline_ladder = runs[0].flags[-1][junction].ladder
    axes[0][0].plot(baseline_ladder, runs[0].flags[-1][junction].baseline, color="gray", ls=":", label="k/n")
    axes[0][0].set_title("final overlap(k), interior junction", fontsize=9)
    axes[0][1].set_title("final dim_τ(k) / k (τ = 10°)", fontsize=9)
    for ax in axes[0]:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k")
        ax.set_ylim(0, 1.05)
    axes[0][0].legend(fontsize=6)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the experiment, write the CSVs and figures, print the summary table."""
    args = parse_args(NAME, argv, __doc__.splitlines()[0])
    start = time.time()
    runs = run_all(workers=args.workers)
    write_csv(args.out / f"{NAME}.csv", record_rows(runs))
    summary = summary_rows(runs)
    write_csv(args.out / f"{NAME}_summary.csv", summary)
    plot_overlap_curves(runs, args.out / f"{NAME}_curves.png")
    plot_final_ladder(runs, args.out / f"{NAME}_ladder.png")
    print(
        f"alignment: depth {DEPTH}, width {WIDTH}, η = {LR} (warm-up {WARMUP_STEPS}), {STEPS} steps, "
        f"seeds {list(SEEDS)}; junction means"
    )
    print(f"{'activation':>10} {'λ':>6} {'k':>3} {'k/n':>6} {'step 0':>7}  {'final overlap':>16}  {'final dim_τ':>14}")
    for row in summary:
        print(
            f"{row['activation']:>10} {row['weight_decay']:>6g} {row['k']:>3} {row['baseline']:>6.3f} "
            f"{row['initial_overlap_mean']:>7.3f}  "
            f"{row['final_overlap_mean']:.3f} ± {row['final_overlap_seed_std']:.3f}"
            f"  {row['final_dim_tau_mean']:>5.2f} ± {row['final_dim_tau_seed_std']:.2f}"
        )
    print(f"wrote {args.out} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
