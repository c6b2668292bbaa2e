"""Experiment 2: the commutator obstruction. κ/κ₀ → 0 at linear junctions, not at nonlinear ones.

The deep networks of experiment 1 are trained with identity, ReLU, GELU and tanh activations, with
weight decay, and per junction we record κ, κ₀ and κ/κ₀ (`workers.diagnostics.commutator`) with
β and β_diag (`workers.diagnostics.imbalance`). For a linear junction D = CᵀC − PPᵀ decays to zero,
so A = PPᵀ and B = CᵀC become equal and commute: κ/κ₀ → 0. For ReLU only diag D is driven to zero
(per-neuron balance), and for GELU and tanh neither is.

Run ``python -m experiments.commutator_obstruction [--out DIR] [--workers N]``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experiments._output import mean_std, new_figure, parse_args, save_figure, write_csv
from experiments._runner import run_jobs
from experiments._training import DeepMLP, imbalance_norm, junctions, make_regression_task, train_sgd
from workers.diagnostics import commutator, imbalance

NAME = "commutator_obstruction"
CONFIGS: tuple[tuple[int, int], ...] = ((3, 32), (4, 64), (6, 128))
"""(depth, width), as in experiment 1."""
ACTIVATION_NAMES: tuple[str, ...] = ("identity", "relu", "gelu", "tanh")
WEIGHT_DECAY = 1e-2
LR = 0.05
WARMUP_STEPS = 300
STEPS = 8000
RECORD_EVERY = 200
SEEDS: tuple[int, ...] = (0, 1, 2)
N_SAMPLES = 128
"""Half of experiment 1's 256 to fit three depths × four activations × three seeds in a few minutes."""
FINAL_WINDOW = 0.1
"""The settled value is the mean over the last 10% of the run's records."""


@dataclass(frozen=True)
class CommutatorRun:
    """Per record step the loss and, per junction, κ, κ₀, κ/κ₀, β, β_diag and ‖D‖_F."""

    depth: int
    width: int
    activation: str
    weight_decay: float
    seed: int
    steps: np.ndarray
    loss: np.ndarray
    kappa: np.ndarray
    kappa_null: np.ndarray
    kappa_ratio: np.ndarray
    beta: np.ndarray
    beta_diag: np.ndarray
    d_norm: np.ndarray

    def settled(self, field: str = "kappa_ratio", window: float = FINAL_WINDOW) -> np.ndarray:
        """Per junction, the mean of ``field`` over the last ``window`` fraction of the records."""
        values = getattr(self, field)
        start = min(int(len(self.steps) * (1.0 - window)), len(self.steps) - 1)
        return values[start:].mean(axis=0)


def run_commutator(
    *,
    depth: int,
    width: int,
    activation: str,
    weight_decay: float = WEIGHT_DECAY,
    lr: float = LR,
    steps: int = STEPS,
    seed: int = 0,
    record_every: int = RECORD_EVERY,
    n_samples: int = N_SAMPLES,
    warmup_steps: int = WARMUP_STEPS,
) -> CommutatorRun:
    """Train one network with full-batch SGD and weight decay; record the commutator of every junction."""
    task = make_regression_task(n_samples=n_samples, seed=seed)
    model = DeepMLP(
        d_in=task.X.shape[1], width=width, d_out=task.Y.shape[1], depth=depth, activation=activation, seed=seed
    )
    records: dict[str, list] = {k: [] for k in ("steps", "loss", "kappa", "kappa_null", "kappa_ratio", "beta")}
    records |= {"beta_diag": [], "d_norm": []}

    def record(step: int, loss: float) -> None:
        pairs = [(P, C) for _, P, C in junctions(model)]
        comms = [commutator(P, C) for P, C in pairs]
        imbs = [imbalance(P, C) for P, C in pairs]
        records["steps"].append(step)
        records["loss"].append(loss)
        records["kappa"].append([c.kappa for c in comms])
        records["kappa_null"].append([c.kappa_null for c in comms])
        records["kappa_ratio"].append([np.nan if c.kappa_ratio is None else c.kappa_ratio for c in comms])
        records["beta"].append([b.imbalance for b in imbs])
        records["beta_diag"].append([b.imbalance_diag for b in imbs])
        records["d_norm"].append([imbalance_norm(P, C) for P, C in pairs])

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
    arrays = {k: np.array(v) for k, v in records.items()}
    return CommutatorRun(depth, width, activation, weight_decay, seed, **arrays)


def run_all(
    configs: Sequence[tuple[int, int]] = CONFIGS,
    activations: Sequence[str] = ACTIVATION_NAMES,
    seeds: Sequence[int] = SEEDS,
    workers: int = 2,
    **kwargs: object,
) -> list[CommutatorRun]:
    """Every (config, activation, seed), largest networks first."""
    jobs = [
        {"depth": d, "width": w, "activation": a, "seed": s, **kwargs}
        for d, w in sorted(configs, reverse=True)
        for a in activations
        for s in seeds
    ]
    return run_jobs(run_commutator, jobs, workers)


def record_rows(runs: Sequence[CommutatorRun]) -> list[dict[str, object]]:
    """One CSV row per (run, record step, junction)."""
    fields = ("kappa", "kappa_null", "kappa_ratio", "beta", "beta_diag", "d_norm")
    return [
        {
            "activation": r.activation,
            "depth": r.depth,
            "width": r.width,
            "weight_decay": r.weight_decay,
            "seed": r.seed,
            "step": int(step),
            "junction": j,
            "loss": float(r.loss[i]),
        }
        | {f: float(getattr(r, f)[i, j]) for f in fields}
        for r in runs
        for i, step in enumerate(r.steps)
        for j in range(r.kappa.shape[1])
    ]


def seed_means(runs: Sequence[CommutatorRun], activation: str, field: str) -> list[float]:
    """Per seed, the settled ``field`` averaged over every junction of every config."""
    seeds = sorted({r.seed for r in runs})
    return [
        float(np.mean(np.concatenate([r.settled(field) for r in runs if r.activation == activation and r.seed == s])))
        for s in seeds
    ]


def summary_rows(runs: Sequence[CommutatorRun]) -> list[dict[str, object]]:
    """Per activation (all configs) and per (activation, config): settled κ/κ₀, β, β_diag as mean ± std."""
    rows = []
    activations = [a for a in ACTIVATION_NAMES if any(r.activation == a for r in runs)]
    configs = sorted({(r.depth, r.width) for r in runs})
    for a in activations:
        for cfg in [None, *configs]:
            group = [r for r in runs if r.activation == a and (cfg is None or (r.depth, r.width) == cfg)]
            row: dict[str, object] = {"activation": a, "config": "all" if cfg is None else f"{cfg[0]}x{cfg[1]}"}
            for field in ("kappa_ratio", "beta", "beta_diag"):
                per_seed = seed_means(group, a, field)
                junction_values = np.concatenate([r.settled(field) for r in group])
                row[f"{field}_mean"], row[f"{field}_seed_std"] = mean_std(per_seed)
                row[f"{field}_junction_min"] = float(junction_values.min())
                row[f"{field}_junction_max"] = float(junction_values.max())
            row["final_loss_mean"] = float(np.mean([r.loss[-1] for r in group]))
            row["n_runs"] = len(group)
            rows.append(row)
    return rows


_COLORS = {"identity": "black", "relu": "tab:red", "gelu": "tab:blue", "tanh": "tab:green"}


def plot_trajectories(runs: Sequence[CommutatorRun], path: object) -> None:
    """κ/κ₀ and β, β_diag against step: mean over junctions, one line per (activation, seed)."""
    configs = sorted({(r.depth, r.width) for r in runs})
    fig, axes = new_figure(ncols=len(configs), nrows=2, width=4.2, height=3.2)
    for col, cfg in enumerate(configs):
        top, bottom = axes[0][col], axes[1][col]
        for r in runs:
            if (r.depth, r.width) != cfg:
                continue
            color = _COLORS[r.activation]
            label = r.activation if r.seed == min(x.seed for x in runs) else None
            top.plot(r.steps, np.nanmean(r.kappa_ratio, axis=1), color=color, lw=1, alpha=0.8, label=label)
            if r.activation in ("identity", "relu"):
                beta_label = f"{r.activation} β" if label else None
                bottom.plot(r.steps, r.beta.mean(axis=1), color=color, lw=1, label=beta_label)
                bottom.plot(
                    r.steps,
                    r.beta_diag.mean(axis=1),
                    color=color,
                    lw=1,
                    ls=":",
                    label=f"{r.activation} β_diag" if label else None,
                )
        top.set_yscale("log")
        top.set_title(f"depth {cfg[0]}, width {cfg[1]}: κ/κ₀ (junction mean)", fontsize=9)
        bottom.set_yscale("log")
        bottom.set_title("imbalance β (solid) and β_diag (dotted)", fontsize=9)
        for ax in (top, bottom):
            ax.set_xlabel("step")
            ax.legend(fontsize=7)
    save_figure(fig, path)


def plot_settled(summary: Sequence[dict[str, object]], path: object) -> None:
    """Settled κ/κ₀ per activation (mean ± std over seeds), per config and pooled."""
    fig, axes = new_figure(width=6.0)
    ax = axes[0][0]
    configs = sorted({row["config"] for row in summary}, key=lambda c: (c != "all", c))
    activations = list(dict.fromkeys(row["activation"] for row in summary))
    bar = 0.8 / len(configs)
    for i, cfg in enumerate(configs):
        rows = [next(r for r in summary if r["activation"] == a and r["config"] == cfg) for a in activations]
        ax.bar(
            np.arange(len(activations)) + i * bar,
            [r["kappa_ratio_mean"] for r in rows],
            bar,
            yerr=[r["kappa_ratio_seed_std"] for r in rows],
            label=cfg,
            capsize=2,
        )
    ax.set_xticks(np.arange(len(activations)) + 0.4 - bar / 2, activations)
    ax.set_yscale("log")
    ax.set_ylabel("settled κ/κ₀ (mean ± std over seeds)")
    ax.set_title("κ/κ₀ at the end of training, by activation and depth×width", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the experiment, write the CSVs and figures, print the summary table."""
    args = parse_args(NAME, argv, __doc__.splitlines()[0])
    start = time.time()
    runs = run_all(workers=args.workers)
    write_csv(args.out / f"{NAME}.csv", record_rows(runs))
    summary = summary_rows(runs)
    write_csv(args.out / f"{NAME}_summary.csv", summary)
    plot_trajectories(runs, args.out / f"{NAME}_trajectories.png")
    plot_settled(summary, args.out / f"{NAME}_settled.png")
    print(
        f"commutator obstruction: λ = {WEIGHT_DECAY}, η = {LR} (warm-up {WARMUP_STEPS}), {STEPS} steps, "
        f"seeds {list(SEEDS)}; settled = mean of the last {FINAL_WINDOW:.0%} of records"
    )
    print(f"{'activation':>10} {'config':>7}  {'κ/κ₀':>17}  {'β':>17}  {'β_diag':>17}  loss")
    for row in summary:
        cells = [f"{row[f'{f}_mean']:.4f} ± {row[f'{f}_seed_std']:.4f}" for f in ("kappa_ratio", "beta", "beta_diag")]
        print(f"{row['activation']:>10} {row['config']:>7}  " + "  ".join(cells) + f"  {row['final_loss_mean']:.4f}")
    print(f"wrote {args.out} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
