"""Experiment 1: the imbalance D = CᵀC − PPᵀ of a linear junction decays at 2ηλ per step (DESIGN §2.3).

Deep linear networks (depth 3–6, width 32–128) are trained on a low-rank regression task with plain
SGD and weight decay λ. Per junction we record ‖D‖_F (formed directly) and β, β_diag from
`workers.diagnostics.imbalance`, fit log‖D‖ against step by least squares once the loss has plateaued,
and compare the fitted rate with 2ηλ. Without weight decay ‖D‖ should stay constant.

For a linear junction one SGD step gives exactly ``D' = (1 − ηλ)² D + η² (G_CᵀG_C − G_P G_Pᵀ)``
with G the loss gradients (the first-order terms cancel because ``CᵀG_C = G_P Pᵀ``), so the
fitted rate is ``−2 ln(1 − ηλ) ≈ 2ηλ`` up to the η² term, whose total over a window is bounded
by roughly η times the loss decrease in it: small once the loss has plateaued.

Run ``python -m experiments.balance_decay [--out DIR]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experiments._output import mean_std, new_figure, parse_args, save_figure, write_csv
from experiments._runner import run_jobs
from experiments._training import DeepMLP, imbalance_norm, junctions, make_regression_task, train_sgd
from workers.diagnostics import imbalance

NAME = "balance_decay"
CONFIGS: tuple[tuple[int, int], ...] = ((3, 32), (4, 64), (6, 128))
"""(depth, width) of the deep linear networks."""
WEIGHT_DECAYS: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2)
"""λ values; 0 is the control in which ‖D‖ is conserved."""
LR = 0.05
"""SGD step η after the warm-up."""
WARMUP_STEPS = 300
"""Linear warm-up of η; without it depth 6 diverges at η = 0.05. Fits start after it."""
STEPS = 3000
RECORD_EVERY = 25
SEEDS: tuple[int, ...] = (0, 1, 2)
MINIBATCH = 32
"""Batch size of the stochastic runs; ``None`` (full batch, N = 256) is the low-noise reference."""
N_SAMPLES = 256
PLATEAU_TOL = 1e-3
"""The loss has plateaued once it stays within this fraction of its total drop above its final value."""


@dataclass(frozen=True)
class BalanceRun:
    """Records of one training run: per record step the loss and, per junction, ‖D‖_F, β and β_diag."""

    depth: int
    width: int
    weight_decay: float
    lr: float
    batch_size: int | None
    seed: int
    warmup_steps: int
    steps: np.ndarray
    loss: np.ndarray
    d_norm: np.ndarray
    beta: np.ndarray
    beta_diag: np.ndarray

    @property
    def predicted_rate(self) -> float:
        """The paper's prediction 2ηλ, per step."""
        return 2.0 * self.lr * self.weight_decay


def run_balance(
    *,
    depth: int,
    width: int,
    weight_decay: float,
    lr: float = LR,
    steps: int = STEPS,
    seed: int = 0,
    batch_size: int | None = None,
    record_every: int = RECORD_EVERY,
    n_samples: int = N_SAMPLES,
    warmup_steps: int = WARMUP_STEPS,
) -> BalanceRun:
    """Train one deep linear network and record the balance of every junction."""
    task = make_regression_task(n_samples=n_samples, seed=seed)
    model = DeepMLP(d_in=task.X.shape[1], width=width, d_out=task.Y.shape[1], depth=depth, seed=seed)
    rec_steps, losses, d_norms, betas, beta_diags = [], [], [], [], []

    def record(step: int, loss: float) -> None:
        rec_steps.append(step)
        losses.append(loss)
        pairs = [(P, C) for _, P, C in junctions(model)]
        d_norms.append([imbalance_norm(P, C) for P, C in pairs])
        values = [imbalance(P, C) for P, C in pairs]
        betas.append([v.imbalance for v in values])
        beta_diags.append([v.imbalance_diag for v in values])

    train_sgd(
        model,
        task,
        lr=lr,
        weight_decay=weight_decay,
        steps=steps,
        record_every=record_every,
        record=record,
        batch_size=batch_size,
        warmup_steps=warmup_steps,
        seed=seed,
    )
    return BalanceRun(
        depth,
        width,
        weight_decay,
        lr,
        batch_size,
        seed,
        warmup_steps,
        np.array(rec_steps),
        np.array(losses),
        np.array(d_norms),
        np.array(betas),
        np.array(beta_diags),
    )


def plateau_index(loss: np.ndarray, tol: float = PLATEAU_TOL) -> int:
    """First record index from which the loss stays within ``tol × (loss₀ − loss_final)`` of its final value."""
    final = loss[-1]
    threshold = tol * max(loss[0] - final, 0.0)
    outside = np.nonzero(np.abs(loss - final) > threshold)[0]
    return 0 if outside.size == 0 else min(int(outside[-1]) + 1, len(loss) - 2)


def fit_decay_rate(steps: np.ndarray, norms: np.ndarray) -> float:
    """Least-squares decay rate per step: minus the slope of log‖D‖ against step."""
    slope = np.polyfit(steps.astype(float), np.log(norms), 1)[0]
    return float(-slope)


def fit_start(run: BalanceRun) -> int:
    """First record of the fit window: the loss has plateaued and the warm-up is over."""
    after_warmup = int(np.searchsorted(run.steps, run.warmup_steps))
    return max(plateau_index(run.loss), after_warmup)


def fitted_rates(run: BalanceRun, from_plateau: bool = True) -> list[float]:
    """Fitted decay rate of ‖D‖ per junction, over the plateau window (or the whole run)."""
    start = fit_start(run) if from_plateau else 0
    return [fit_decay_rate(run.steps[start:], run.d_norm[start:, j]) for j in range(run.d_norm.shape[1])]


def max_relative_drift(run: BalanceRun) -> float:
    """Largest ``|‖D_t‖ / ‖D_0‖ − 1|`` over the run and all junctions (the λ = 0 conservation check)."""
    return float(np.max(np.abs(run.d_norm / run.d_norm[0] - 1.0)))


def run_all(
    configs: Sequence[tuple[int, int]] = CONFIGS,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    seeds: Sequence[int] = SEEDS,
    batch_sizes: Sequence[int | None] = (None, MINIBATCH),
    workers: int = 2,
) -> list[BalanceRun]:
    """Every (batch size, config, λ, seed) combination, largest networks first."""
    jobs = [
        {"depth": depth, "width": width, "weight_decay": wd, "seed": seed, "batch_size": bs}
        for depth, width in sorted(configs, reverse=True)
        for bs in batch_sizes
        for wd in weight_decays
        for seed in seeds
    ]
    return run_jobs(run_balance, jobs, workers)


def _mode(batch_size: int | None) -> str:
    return "full-batch" if batch_size is None else f"batch-{batch_size}"


def record_rows(runs: Sequence[BalanceRun]) -> list[dict[str, object]]:
    """One CSV row per (run, record step, junction)."""
    return [
        {
            "mode": _mode(r.batch_size),
            "depth": r.depth,
            "width": r.width,
            "weight_decay": r.weight_decay,
            "lr": r.lr,
            "seed": r.seed,
            "step": int(step),
            "junction": j,
            "loss": float(r.loss[i]),
            "d_norm": float(r.d_norm[i, j]),
            "beta": float(r.beta[i, j]),
            "beta_diag": float(r.beta_diag[i, j]),
        }
        for r in runs
        for i, step in enumerate(r.steps)
        for j in range(r.d_norm.shape[1])
    ]


def control_corrected_ratios(run: BalanceRun, runs: Sequence[BalanceRun]) -> list[float]:
    """(fitted − fitted at λ = 0) / 2ηλ per junction, the control being the same mode, config and seed.

    The λ = 0 run measures the drift of ‖D‖ that the η² terms alone cause (chiefly minibatch noise).
    """
    control = next(
        r
        for r in runs
        if r.weight_decay == 0
        and (r.batch_size, r.depth, r.width, r.seed) == (run.batch_size, run.depth, run.width, run.seed)
    )
    return [(x - x0) / run.predicted_rate for x, x0 in zip(fitted_rates(run), fitted_rates(control), strict=True)]


def summary_rows(runs: Sequence[BalanceRun]) -> list[dict[str, object]]:
    """Per (mode, λ): fitted/predicted over all configs, seeds and junctions, plus the λ = 0 drift."""
    rows = []
    has_control = any(r.weight_decay == 0 for r in runs)
    for bs in sorted({r.batch_size for r in runs}, key=lambda b: b or 0):
        for wd in sorted({r.weight_decay for r in runs}):
            group = [r for r in runs if r.batch_size == bs and r.weight_decay == wd]
            plateau = [rate for r in group for rate in fitted_rates(r)]
            whole = [rate for r in group for rate in fitted_rates(r, from_plateau=False)]
            predicted = 2.0 * LR * wd
            row: dict[str, object] = {"mode": _mode(bs), "weight_decay": wd, "predicted_rate": predicted}
            if wd > 0:
                ratios = [x / predicted for x in plateau]
                whole_ratios = [x / predicted for x in whole]
                row |= {
                    "ratio_mean": mean_std(ratios)[0],
                    "ratio_std": mean_std(ratios)[1],
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "whole_run_ratio_mean": mean_std(whole_ratios)[0],
                    "whole_run_ratio_std": mean_std(whole_ratios)[1],
                }
                if has_control:
                    corrected = [x for r in group for x in control_corrected_ratios(r, runs)]
                    corrected_mean, corrected_std = mean_std(corrected)
                    row |= {"corrected_ratio_mean": corrected_mean, "corrected_ratio_std": corrected_std}
            else:
                row |= {
                    "fitted_rate_mean": mean_std(plateau)[0],
                    "fitted_rate_max_abs": max(abs(x) for x in plateau),
                    "max_relative_drift": max(max_relative_drift(r) for r in group),
                }
            row["n_junctions"] = len(plateau)
            rows.append(row)
    return rows


def plot_decay(runs: Sequence[BalanceRun], depth: int, width: int, seed: int, path: object) -> None:
    """‖D_t‖/‖D_0‖ (log scale) per junction, per λ and mode, with the predicted (1 − 2ηλ)^t lines."""
    modes = sorted({r.batch_size for r in runs}, key=lambda b: b or 0)
    fig, axes = new_figure(ncols=len(modes))
    colors = dict(zip(WEIGHT_DECAYS, ["black", "tab:blue", "tab:orange", "tab:red"], strict=True))
    for ax, bs in zip(axes[0], modes, strict=True):
        for r in runs:
            if (r.batch_size, r.depth, r.width, r.seed) != (bs, depth, width, seed):
                continue
            color = colors.get(r.weight_decay, "gray")
            for j in range(r.d_norm.shape[1]):
                label = f"λ={r.weight_decay:g}" if j == 0 else None
                ax.plot(r.steps, r.d_norm[:, j] / r.d_norm[0, j], color=color, lw=1, alpha=0.8, label=label)
            start = fit_start(r)
            anchor = float(np.mean(r.d_norm[start] / r.d_norm[0]))
            predicted = anchor * np.exp(-r.predicted_rate * (r.steps[start:] - r.steps[start]))
            ax.plot(r.steps[start:], predicted, color=color, ls="--", lw=1.5)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("‖D_t‖ / ‖D_0‖")
        title = f"{_mode(bs)}, depth {depth}, width {width}, seed {seed}\n(dashed: slope −2ηλ from the fit start)"
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_ratios(summary: Sequence[dict[str, object]], runs: Sequence[BalanceRun], path: object) -> None:
    """Fitted/predicted rate per junction against λ, one marker per config, both modes."""
    fig, axes = new_figure()
    ax = axes[0][0]
    markers = dict(zip(CONFIGS, "os^", strict=True))
    for r in runs:
        if r.weight_decay == 0:
            continue
        offset = 1.0 if r.batch_size is None else 1.15
        ratios = [x / r.predicted_rate for x in fitted_rates(r)]
        color = "tab:blue" if r.batch_size is None else "tab:orange"
        ax.scatter(
            [r.weight_decay * offset] * len(ratios),
            ratios,
            marker=markers.get((r.depth, r.width), "x"),
            s=14,
            color=color,
            alpha=0.6,
        )
    ax.axhspan(0.9, 1.1, color="green", alpha=0.1, label="±10% target")
    ax.axhline(1.0, color="green", lw=1)
    ax.scatter([], [], color="tab:blue", label="full batch")
    ax.scatter([], [], color="tab:orange", label=f"batch {MINIBATCH}")
    ax.set_xscale("log")
    ax.set_xlabel("weight decay λ")
    ax.set_ylabel("fitted / predicted (2ηλ)")
    ax.set_title("decay rate of ‖D‖ after the loss plateau\n(o: 3×32, s: 4×64, ^: 6×128)", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the experiment, write the CSVs and figures, print the summary table."""
    args = parse_args(NAME, argv, __doc__.splitlines()[0])
    out = args.out
    start = time.time()
    runs = run_all(workers=args.workers)
    write_csv(out / f"{NAME}.csv", record_rows(runs))
    summary = summary_rows(runs)
    write_csv(out / f"{NAME}_summary.csv", summary)
    plot_decay(runs, 4, 64, 0, out / f"{NAME}_curves.png")
    plot_ratios(summary, runs, out / f"{NAME}_ratios.png")
    print(
        f"balance decay: η = {LR} (warm-up {WARMUP_STEPS}), {STEPS} steps, N = {N_SAMPLES}, "
        f"seeds {list(SEEDS)}, (depth, width) {list(CONFIGS)}"
    )
    print(f"{'mode':>11} {'λ':>7} {'2ηλ':>8}  fitted/predicted (mean ± std [min, max]) | whole run | λ=0-corrected")
    for row in summary:
        if row["weight_decay"]:
            print(
                f"{row['mode']:>11} {row['weight_decay']:>7g} {row['predicted_rate']:>8.1e}  "
                f"{row['ratio_mean']:.4f} ± {row['ratio_std']:.4f} [{row['ratio_min']:.4f}, {row['ratio_max']:.4f}]"
                f" | {row['whole_run_ratio_mean']:.3f} ± {row['whole_run_ratio_std']:.3f}"
                f" | {row.get('corrected_ratio_mean', math.nan):.4f} ± {row.get('corrected_ratio_std', math.nan):.4f}"
            )
        else:
            print(
                f"{row['mode']:>11} {0:>7g} {0:>8.1e}  fitted rate {row['fitted_rate_mean']:.2e}"
                f" (max |·| {row['fitted_rate_max_abs']:.2e}); max |‖D_t‖/‖D_0‖ − 1| = {row['max_relative_drift']:.2e}"
            )
    print(f"wrote {out} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
