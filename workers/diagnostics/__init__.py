"""Pure weight-space diagnostics from arXiv 2605.09861: tensors in, typed numbers out. No I/O."""

from workers.diagnostics._checks import DiagnosticInputError
from workers.diagnostics.angles import DEFAULT_RANK_RTOL, orthonormal_basis, principal_angles
from workers.diagnostics.balance import Imbalance, imbalance, imbalance_diag, imbalance_from_traces
from workers.diagnostics.commutator import (
    Commutator,
    GramTraces,
    commutator,
    commutator_from_traces,
    gram_traces,
    kappa_null,
)
from workers.diagnostics.flag import (
    DEFAULT_TOLERANCE_DEG,
    FlagAlignment,
    flag_alignment,
    flag_alignment_from_bases,
    rank_ladder,
)
from workers.diagnostics.heads import HeadBases, HeadOverlap, head_bases, head_overlap, subspace_overlap
from workers.diagnostics.spectra import Spectrum, spectrum, spectrum_from_singular_values

__all__ = [
    "DEFAULT_RANK_RTOL",
    "DEFAULT_TOLERANCE_DEG",
    "Commutator",
    "DiagnosticInputError",
    "FlagAlignment",
    "GramTraces",
    "HeadBases",
    "HeadOverlap",
    "Imbalance",
    "Spectrum",
    "commutator",
    "commutator_from_traces",
    "flag_alignment",
    "flag_alignment_from_bases",
    "gram_traces",
    "head_bases",
    "head_overlap",
    "imbalance",
    "imbalance_diag",
    "imbalance_from_traces",
    "kappa_null",
    "orthonormal_basis",
    "principal_angles",
    "rank_ladder",
    "spectrum",
    "spectrum_from_singular_values",
    "subspace_overlap",
]
