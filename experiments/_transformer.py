"""A one-block pre-LN transformer with explicit per-head weights, and the toy histogram task.

The histogram task: each position must output how many times its own token occurs in the sequence,
which one attention layer plus an MLP solves (attention gathers same-token positions, the MLP reads
the count). All projections are bias-free so each junction is exactly a pair of weight matrices.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["OneBlockTransformer", "histogram_batch", "junction_weights", "head_spans"]


def histogram_batch(
    batch_size: int, seq_len: int, vocab: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token sequences (B, T) and, per position, the count of its token in the sequence (B, T)."""
    tokens = torch.randint(vocab, (batch_size, seq_len), generator=generator)
    counts = (tokens[:, :, None] == tokens[:, None, :]).sum(dim=-1)
    return tokens, counts


class OneBlockTransformer(nn.Module):
    """Embedding → x + Attn(LN x) → x + MLP(LN x) → LN → readout over counts 0..seq_len."""

    def __init__(
        self, *, vocab: int, seq_len: int, d_model: int, n_heads: int, d_ff: int, activation: str = "gelu", seed: int
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        torch.manual_seed(seed)
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.embed = nn.Embedding(vocab, d_model)
        self.ln_attn, self.ln_mlp, self.ln_out = (nn.LayerNorm(d_model) for _ in range(3))
        self.W_Q, self.W_K, self.W_V, self.W_O = (nn.Linear(d_model, d_model, bias=False) for _ in range(4))
        self.W_up = nn.Linear(d_model, d_ff, bias=False)
        self.W_down = nn.Linear(d_ff, d_model, bias=False)
        self.activation = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.readout = nn.Linear(d_model, seq_len + 1)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention without a causal mask (the task is permutation-equivariant)."""
        B, T, _ = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

        q, k, v = heads(self.W_Q(x)), heads(self.W_K(x)), heads(self.W_V(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)
        mixed = F.softmax(scores, dim=-1) @ v
        return self.W_O(mixed.transpose(1, 2).reshape(B, T, -1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, seq_len + 1) over the possible counts."""
        x = self.embed(tokens)
        x = x + self.attention(self.ln_attn(x))
        x = x + self.W_down(self.activation(self.W_up(self.ln_mlp(x))))
        return self.readout(self.ln_out(x))


def junction_weights(model: OneBlockTransformer) -> Iterator[tuple[str, int | None, torch.Tensor, torch.Tensor]]:
    """Yield ``(kind, head, P, C)``: per head ``ov`` (W_V^h, W_O^h) and ``qk`` (W_K^h, W_Q^hᵀ), then ``mlp``."""
    d_head = model.d_head
    W_Q, W_K = model.W_Q.weight.detach(), model.W_K.weight.detach()
    W_V, W_O = model.W_V.weight.detach(), model.W_O.weight.detach()
    for h in range(model.n_heads):
        rows = slice(h * d_head, (h + 1) * d_head)
        yield "ov", h, W_V[rows], W_O[:, rows]
        yield "qk", h, W_K[rows], W_Q[rows].T
    yield "mlp", None, model.W_up.weight.detach(), model.W_down.weight.detach()


def head_spans(model: OneBlockTransformer, projection: str) -> torch.Tensor:
    """Spanning vectors (H, d_model, d_head) of each head's subspace for t ∈ {q, k, v} (rows) or o (columns)."""
    H, d_head = model.n_heads, model.d_head
    if projection == "o":
        W_O = model.W_O.weight.detach()
        return W_O.view(W_O.shape[0], H, d_head).permute(1, 0, 2)
    W = {"q": model.W_Q, "k": model.W_K, "v": model.W_V}[projection].weight.detach()
    return W.view(H, d_head, W.shape[1]).transpose(1, 2)
