"""Shared helpers: a synthetic regression task, deep bias-free MLPs, plain SGD and junction listing.

Every network here is a chain of bias-free ``nn.Linear`` layers, so layer i's weight (out × in) is the
producer ``P`` and layer i+1's weight the consumer ``C`` of the junction between them (DESIGN §2).
Biases are left out on purpose: with a bias the per-neuron balance of ReLU involves ``‖P_i‖² + b_i²``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "DeepMLP",
    "RegressionTask",
    "imbalance_norm",
    "junctions",
    "make_regression_task",
    "set_threads",
    "train_sgd",
]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
}
"""The activations σ of the junctions, by name."""

_INIT_GAIN = {"identity": 1.0, "tanh": 1.0, "relu": math.sqrt(2.0), "gelu": math.sqrt(2.0)}
"""Gaussian init std is ``gain / sqrt(fan_in)``: variance-preserving for each activation."""


def set_threads(n: int = 1) -> None:
    """Pin torch to ``n`` intra-op threads: one is fastest for these small matrices (two spin and contend)."""
    torch.set_num_threads(n)


@dataclass(frozen=True)
class RegressionTask:
    """Inputs ``X`` (N, d_in) and targets ``Y`` (N, d_out) from a low-rank linear teacher plus noise."""

    X: torch.Tensor
    Y: torch.Tensor


def make_regression_task(
    *,
    d_in: int = 16,
    d_out: int = 16,
    n_samples: int = 512,
    teacher_rank: int = 4,
    noise: float = 0.05,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> RegressionTask:
    """Gaussian inputs and targets ``Y = X Tᵀ + noise`` with a rank-``teacher_rank`` teacher T.

    T's singular values are ``1, 2^{-1/2}, 2^{-1}, …`` so the modes are learned at distinct speeds.
    """
    g = torch.Generator().manual_seed(10_000 + seed)
    X = torch.randn(n_samples, d_in, generator=g, dtype=dtype)
    U, _ = torch.linalg.qr(torch.randn(d_out, teacher_rank, generator=g, dtype=dtype))
    V, _ = torch.linalg.qr(torch.randn(d_in, teacher_rank, generator=g, dtype=dtype))
    S = torch.tensor([2.0 ** (-i / 2) for i in range(teacher_rank)], dtype=dtype)
    T = U @ torch.diag(S) @ V.T
    Y = X @ T.T + noise * torch.randn(n_samples, d_out, generator=g, dtype=dtype)
    return RegressionTask(X, Y)


class DeepMLP(nn.Module):
    """``depth`` bias-free linear layers ``d_in → width → … → width → d_out`` with σ between them."""

    def __init__(
        self,
        *,
        d_in: int,
        width: int,
        d_out: int,
        depth: int,
        activation: str = "identity",
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2 to have a junction, got {depth}")
        dims = [d_in] + [width] * (depth - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False, dtype=dtype) for a, b in pairwise(dims))
        self.activation = ACTIVATIONS[activation]()
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in self.layers:
                fan_in = layer.weight.shape[1]
                std = _INIT_GAIN[activation] / math.sqrt(fan_in)
                layer.weight.copy_(std * torch.randn(layer.weight.shape, generator=g, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the chain, with σ after every layer but the last."""
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


def junctions(model: DeepMLP) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield ``(index, P, C)`` for each junction: layer i's weight produces, layer i+1's consumes."""
    weights = [layer.weight.detach() for layer in model.layers]
    for i, (P, C) in enumerate(pairwise(weights)):
        yield i, P, C


def imbalance_norm(P: torch.Tensor, C: torch.Tensor) -> float:
    """‖D‖_F with ``D = CᵀC − PPᵀ``, formed directly (fine at these widths), in float64."""
    P64, C64 = P.to(torch.float64), C.to(torch.float64)
    return float(torch.linalg.matrix_norm(C64.T @ C64 - P64 @ P64.T))


def mse_loss(model: nn.Module, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``½ · mean over samples of ‖f(x) − y‖²``."""
    return 0.5 * ((model(X) - Y) ** 2).sum(dim=1).mean()


def train_sgd(
    model: DeepMLP,
    task: RegressionTask,
    *,
    lr: float,
    weight_decay: float,
    steps: int,
    record_every: int,
    record: Callable[[int, float], None],
    batch_size: int | None = None,
    warmup_steps: int = 0,
    seed: int = 0,
) -> None:
    """Plain SGD (no momentum), weight decay as L2 in the gradient: ``W ← W − η_t(∇L + λW)``.

    ``η_t = η · min(1, (t + 1) / warmup_steps)``: a linear warm-up, after which the step is constant.
    The warm-up only tames the first large-loss steps of deep nets (depth 6 diverges at η = 0.05
    without it); every fit is made after it. ``batch_size=None`` is full-batch gradient descent.
    ``record(step, loss)`` is called at step 0, every ``record_every`` steps and at the end, with the
    full-data loss at the current weights.
    """
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(20_000 + seed)
    n = task.X.shape[0]
    for step in range(steps + 1):
        if step % record_every == 0 or step == steps:
            with torch.no_grad():
                record(step, float(mse_loss(model, task.X, task.Y)))
        if step == steps:
            break
        if batch_size is None:
            X, Y = task.X, task.Y
        else:
            idx = torch.randint(n, (batch_size,), generator=g)
            X, Y = task.X[idx], task.Y[idx]
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr
        opt.zero_grad(set_to_none=True)
        mse_loss(model, X, Y).backward()
        opt.step()
