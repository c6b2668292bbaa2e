"""The scan report: a versioned, torch-free pydantic schema shared by workers, the API and the CLI."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning or disappears; additions keep the version."""

ENGINE_VERSION = "0.1.0"
"""Version of the numbers: bumped whenever a diagnostic's computation changes, which invalidates cached reports."""

JunctionKind = Literal["mlp", "mlp_up", "mlp_gate", "ov", "qk", "residual"]
Projection = Literal["q", "k", "v", "o"]


class ScanOptions(BaseModel):
    """User-settable scan options; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance_deg: float = Field(10.0, gt=0.0, lt=90.0, description="τ: principal angles ≤ τ count as shared.")
    rank_rtol: float = Field(1e-5, gt=0.0, lt=1.0, description="Relative singular-value cutoff for ranks.")
    flag_max_rank: int | None = Field(
        None, ge=1, le=65536, description="Cap on the flag rank ladder (default: the full effective rank)."
    )
    heads: bool = Field(True, description="Compute head overlap and composition.")
    per_head_junctions: bool = Field(True, description="Compute the per-head ov and qk junctions.")
    residual: bool = Field(True, description="Compute the residual junctions between sublayers.")

    def cache_hash(self) -> str:
        """Hash of the normalised options (defaults filled in), part of the cache key."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ModelInfo(BaseModel):
    """What was scanned."""

    id: str
    revision: str | None
    commit_sha: str | None
    architecture: str
    num_layers: int
    num_heads: int | None
    num_kv_heads: int | None
    head_dim: int | None
    hidden_size: int | None
    intermediate_size: int | None


class FlagResult(BaseModel):
    """Flag alignment over the rank ladder (DESIGN §2.1)."""

    ladder: list[int]
    overlap: list[float]
    baseline: list[float]
    intersection_dim: list[int]
    relative_position: list[list[int]]


class JunctionResult(BaseModel):
    """One junction's diagnostics (DESIGN §2.2, §2.3)."""

    kind: JunctionKind
    head: int | None = None
    expert: int | None = None
    between: str | None = Field(None, description="For residual junctions: 'attn->mlp' or 'mlp->attn'.")
    n: int
    kappa: float
    kappa_null: float
    kappa_ratio: float | None
    imbalance: float
    imbalance_diag: float
    flag: FlagResult


class HeadOverlapResult(BaseModel):
    """Head subspace overlap of one projection (DESIGN §2.4)."""

    overlap: list[list[float]]
    mean_overlap: float
    max_overlap: float
    baseline: float
    mean_excess: float
    max_excess: float
    redundant_pairs: int


class SpectrumResult(BaseModel):
    """Norms and effective ranks of one matrix (DESIGN §2.5)."""

    fro: float
    spectral: float
    stable_rank: float
    effective_rank: float


class LayerResult(BaseModel):
    """Everything measured in one layer."""

    index: int
    heads: dict[Projection, HeadOverlapResult] = Field(default_factory=dict)
    composition: dict[Literal["q", "k", "v"], list[list[float]]] = Field(default_factory=dict)
    junctions: list[JunctionResult] = Field(default_factory=list)
    spectra: dict[str, SpectrumResult] = Field(default_factory=dict)


class KindSummary(BaseModel):
    """Means over every junction of one kind."""

    count: int
    mean_kappa_ratio: float | None
    mean_overlap: float | None = Field(description="Mean flag overlap(k) over rungs with k < n (k = n is trivially 1).")
    mean_imbalance: float


class HeadSummary(BaseModel):
    """Mean head-overlap excess of one projection over layers."""

    mean_excess: float


class Summary(BaseModel):
    """The at-a-glance block (DESIGN §2.7)."""

    junctions: dict[str, KindSummary]
    heads: dict[str, HeadSummary]
    redundant_head_pairs: int
    commutator_gap: float | None = Field(description="Mean κ/κ₀ of mlp-type junctions minus that of ov junctions.")


class Provenance(BaseModel):
    """How the report was made."""

    files: list[str]
    bytes_read: int
    bytes_total: int
    seconds: float
    device: str


class Report(BaseModel):
    """A full scan report."""

    schema_version: int = SCHEMA_VERSION
    engine_version: str = ENGINE_VERSION
    model: ModelInfo
    options: ScanOptions
    layers: list[LayerResult]
    summary: Summary
    provenance: Provenance
