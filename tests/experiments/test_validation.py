"""Fast versions of the issue-5 experiments, asserting their headline facts (docs/validation.md).

Each test trains the smallest network of the experiments (depth 3, width 32, full batch) with the
experiments' own code, so the numbers here are those of the full runs at a shorter horizon.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments._training import set_threads
from experiments.balance_decay import fitted_rates, max_relative_drift, run_balance
from experiments.commutator_obstruction import CommutatorRun, run_commutator

DEPTH, WIDTH = 3, 32
COMMUTATOR_STEPS = 6000
"""Long enough for the linear junctions' imbalance to decay by ~e⁻⁵ at ηλ = 5e-4."""
RELU_MARGIN = 0.05
"""Settled ReLU κ/κ₀ exceeds linear by at least this much (measured at seed 0: 0.10 and 0.32 per junction)."""


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    """Pin torch to one thread, as the experiments do."""
    set_threads()


@pytest.fixture(scope="module")
def linear_run() -> CommutatorRun:
    """A deep linear network trained with weight decay 1e-2."""
    return run_commutator(depth=DEPTH, width=WIDTH, activation="identity", steps=COMMUTATOR_STEPS)


@pytest.fixture(scope="module")
def relu_run() -> CommutatorRun:
    """The same network and data with ReLU between the layers."""
    return run_commutator(depth=DEPTH, width=WIDTH, activation="relu", steps=COMMUTATOR_STEPS)


def test_imbalance_decays_at_two_eta_lambda() -> None:
    """After the loss plateaus, the fitted decay rate of ‖CᵀC − PPᵀ‖ is within 10% of 2ηλ at λ = 1e-2."""
    run = run_balance(depth=DEPTH, width=WIDTH, weight_decay=1e-2, steps=1200, seed=0)
    ratios = [rate / run.predicted_rate for rate in fitted_rates(run)]
    assert ratios and all(abs(r - 1.0) < 0.10 for r in ratios), ratios


def test_imbalance_is_conserved_without_weight_decay() -> None:
    """With λ = 0 and full-batch steps, ‖D‖ stays within 1% of its initial value."""
    run = run_balance(depth=DEPTH, width=WIDTH, weight_decay=0.0, steps=1200, seed=0)
    assert max_relative_drift(run) < 0.01


def test_linear_commutator_ratio_falls_below_five_percent(linear_run: CommutatorRun) -> None:
    """At every linear junction κ/κ₀ ends below 0.05 (it started near 1)."""
    assert np.all(linear_run.kappa_ratio[0] > 0.5)
    assert np.all(linear_run.kappa_ratio[-1] < 0.05), linear_run.kappa_ratio[-1]


def test_relu_commutator_ratio_stays_above_linear(linear_run: CommutatorRun, relu_run: CommutatorRun) -> None:
    """Settled ReLU κ/κ₀ exceeds the linear one by more than `RELU_MARGIN` at every junction."""
    gap = relu_run.settled() - linear_run.settled()
    assert np.all(gap > RELU_MARGIN), gap


def test_relu_junctions_balance_per_neuron_only(relu_run: CommutatorRun) -> None:
    """ReLU drives β_diag towards 0 while β stays far from it."""
    assert np.all(relu_run.beta_diag[-1] < 0.02), relu_run.beta_diag[-1]
    assert np.all(relu_run.beta[-1] > 0.1), relu_run.beta[-1]
