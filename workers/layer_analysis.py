"""Turn one layer's weights into a `LayerResult`, carrying what the next layer needs (composition, residual)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workers.adapters import AttentionWeights, MlpWeights
from workers.diagnostics import (
    HeadBases,
    commutator_from_traces,
    flag_alignment_from_bases,
    gram_traces,
    head_overlap,
    imbalance_diag,
    imbalance_from_traces,
    spectrum_from_singular_values,
    subspace_overlap,
)
from workers.report import FlagResult, HeadOverlapResult, JunctionResult, LayerResult, ScanOptions, SpectrumResult


@dataclass(frozen=True)
class Factorization:
    """Thin SVD ``W = U diag(S) Vh`` with the effective rank ``r`` under the scan's cutoff."""

    U: torch.Tensor
    S: torch.Tensor
    Vh: torch.Tensor
    r: int

    @classmethod
    def of(cls, W: torch.Tensor, rtol: float) -> Factorization:
        """Factorise ``W``; ``r = #{S_i > rtol · S_1}``."""
        return cls.of_batch(W.unsqueeze(0), rtol)[0]

    @classmethod
    def of_batch(cls, W: torch.Tensor, rtol: float) -> list[Factorization]:
        """Factorise each ``W[h]`` of a (H, a, b) stack with one batched SVD."""
        U, S, Vh = torch.linalg.svd(W, full_matrices=False)
        top = S[:, :1]
        ranks = ((S > rtol * top) & (top > 0)).sum(dim=1).tolist()
        return [cls(U[h], S[h], Vh[h], int(ranks[h])) for h in range(W.shape[0])]

    def transposed(self) -> Factorization:
        """The factorization of ``Wᵀ = Vhᵀ diag(S) Uᵀ`` (no new SVD)."""
        return Factorization(self.Vh.T, self.S, self.U.T, self.r)


def _head_bases(factors: list[Factorization]) -> HeadBases:
    """Head bases from per-head factorizations: the leading ``r_h`` left singular vectors, zero-padded."""
    Q = torch.stack([f.U for f in factors])
    keep = (
        torch.arange(Q.shape[2], device=Q.device)[None, :]
        < torch.tensor([f.r for f in factors], device=Q.device)[:, None]
    )
    return HeadBases(Q * keep[:, None, :].to(Q.dtype), [f.r for f in factors])


def _flag(P: Factorization, C: Factorization, options: ScanOptions) -> FlagResult:
    if P.r == 0 or C.r == 0:
        return FlagResult(ladder=[], overlap=[], baseline=[], intersection_dim=[], relative_position=[])
    flag = flag_alignment_from_bases(P.U[:, : P.r], C.Vh[: C.r].T, options.tolerance_deg, options.flag_max_rank)
    return FlagResult(**flag.__dict__)


def junction_result(
    kind: str,
    P: torch.Tensor,
    C: torch.Tensor,
    options: ScanOptions,
    *,
    P_svd: Factorization | None = None,
    C_svd: Factorization | None = None,
    head: int | None = None,
    expert: int | None = None,
    between: str | None = None,
) -> JunctionResult:
    """κ, κ₀, β, β_diag and the flag of the junction ``C σ(P x)``, reusing SVDs when given."""
    traces = gram_traces(P, C)
    comm = commutator_from_traces(traces)
    return JunctionResult(
        kind=kind,  # type: ignore[arg-type]
        head=head,
        expert=expert,
        between=between,
        n=int(P.shape[0]),
        kappa=comm.kappa,
        kappa_null=comm.kappa_null,
        kappa_ratio=comm.kappa_ratio,
        imbalance=imbalance_from_traces(traces),
        imbalance_diag=imbalance_diag(P, C),
        flag=_flag(
            P_svd or Factorization.of(P, options.rank_rtol), C_svd or Factorization.of(C, options.rank_rtol), options
        ),
    )


def _spectrum(f: Factorization) -> SpectrumResult:
    return SpectrumResult(**spectrum_from_singular_values(f.S).__dict__)


def _head_result(bases: HeadBases, options: ScanOptions) -> HeadOverlapResult | None:
    if len(bases.ranks) < 2:
        return None
    return HeadOverlapResult(**head_overlap(bases, options.tolerance_deg).__dict__)


class LayerAnalyzer:
    """Analyses layers in order; keeps the previous layer's o-subspaces and MLP write for cross-layer measures."""

    def __init__(self, options: ScanOptions) -> None:
        self.options = options
        self.previous: LayerResult | None = None
        self._previous_o: HeadBases | None = None
        self._previous_write: torch.Tensor | None = None

    def analyse(self, index: int, attention: AttentionWeights | None, mlps: list[MlpWeights]) -> LayerResult:
        """Measure one layer. Composition is written into the *previous* layer's result."""
        opts = self.options
        result = LayerResult(index=index)
        attn_write: torch.Tensor | None = None
        if attention is not None:
            attn_write = self._attention(result, attention)
        for mlp in mlps:
            self._mlp(result, mlp)
        if opts.residual and len(mlps) == 1:
            mlp = mlps[0]
            reads = [mlp.up] + ([mlp.gate] if mlp.gate is not None else [])
            if attn_write is not None:
                C = torch.cat(reads) * (mlp.read_gain if mlp.read_gain is not None else 1.0)
                result.junctions.append(junction_result("residual", attn_write, C, opts, between="attn->mlp"))
            self._previous_write = mlp.down
        else:
            self._previous_write = None
        self.previous = result
        return result

    def _attention(self, result: LayerResult, a: AttentionWeights) -> torch.Tensor:
        opts = self.options
        H, d = a.q.shape[0], a.q.shape[2]
        q_flat, k_flat, v_flat = (x.reshape(-1, d) for x in (a.q, a.k, a.v))
        o_flat = a.o.permute(1, 0, 2).reshape(d, -1)
        o_svd = Factorization.of(o_flat, opts.rank_rtol)
        for role, W in (("q", q_flat), ("k", k_flat), ("v", v_flat)):
            result.spectra[role] = SpectrumResult(**spectrum_from_singular_values(torch.linalg.svdvals(W)).__dict__)
        result.spectra["o"] = _spectrum(o_svd)
        # 1. Residual junction from the previous layer's MLP write into this attention's reads.
        if opts.residual and self._previous_write is not None:
            C = torch.cat([q_flat, k_flat, v_flat]) * (a.read_gain if a.read_gain is not None else 1.0)
            result.junctions.append(junction_result("residual", self._previous_write, C, opts, between="mlp->attn"))
        # 2. One batched SVD per projection, of every head's (d_model × d_head) spanning matrix: its left
        #    singular vectors are the head bases, and the same factorizations feed the per-head junctions.
        if not (opts.heads or opts.per_head_junctions):
            return o_flat
        spans = {"q": a.q.transpose(1, 2), "k": a.k.transpose(1, 2), "v": a.v.transpose(1, 2), "o": a.o}
        svd = {role: Factorization.of_batch(W, opts.rank_rtol) for role, W in spans.items()}
        # 3. Head subspaces and composition with the previous layer's writes.
        if opts.heads:
            bases = {role: _head_bases(factors) for role, factors in svd.items()}
            for role, b in bases.items():
                head = _head_result(b, opts)
                if head is not None:
                    result.heads[role] = head  # type: ignore[index]
            if self._previous_o is not None and self.previous is not None:
                for role in ("q", "k", "v"):
                    self.previous.composition[role] = subspace_overlap(self._previous_o, bases[role]).cpu().tolist()  # type: ignore[index]
            self._previous_o = bases["o"]
        # 4. Per-head ov and qk junctions, pairing each query/output head with its K/V group. The producers are
        #    k[g] and v[g] themselves (d_head × d_model), the transposes of their spanning matrices.
        if opts.per_head_junctions:
            group = a.group_size
            for h in range(H):
                g = h // group
                v_g, k_g = svd["v"][g].transposed(), svd["k"][g].transposed()
                ov = junction_result("ov", a.v[g], a.o[h], opts, P_svd=v_g, C_svd=svd["o"][h], head=h)
                qk = junction_result("qk", a.k[g], a.q[h].T, opts, P_svd=k_g, C_svd=svd["q"][h], head=h)
                result.junctions += [ov, qk]
        return o_flat

    def _mlp(self, result: LayerResult, m: MlpWeights) -> None:
        opts = self.options
        suffix = "" if m.expert is None else f".{m.expert}"
        down = Factorization.of(m.down, opts.rank_rtol)
        result.spectra[f"down{suffix}"] = _spectrum(down)
        producers = [("mlp_up" if m.gate is not None else "mlp", "up", m.up)]
        if m.gate is not None:
            producers.append(("mlp_gate", "gate", m.gate))
        for kind, role, P in producers:
            P_svd = Factorization.of(P, opts.rank_rtol)
            result.spectra[f"{role}{suffix}"] = _spectrum(P_svd)
            result.junctions.append(junction_result(kind, P, m.down, opts, P_svd=P_svd, C_svd=down, expert=m.expert))
