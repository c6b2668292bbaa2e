"""Model-card snippet and plots rendered from a real report."""

from __future__ import annotations

import pytest

from tests.conftest import minilm_dir
from workers.card import front_matter, model_card
from workers.pipeline import scan
from workers.plots import PLOT_NAMES, render_plot
from workers.report import Report, ScanOptions
from workers.sources import LocalSource


@pytest.fixture(scope="module")
def report() -> Report:
    return scan(LocalSource(minilm_dir()), ScanOptions(per_head_junctions=False))


def test_card_has_front_matter_under_flagscan_and_a_table(report: Report) -> None:
    card = model_card(report)
    head, _, body = card.partition("\n---\n")
    assert head.startswith("---\nflagscan:\n")
    assert f"  redundant_head_pairs: {report.summary.redundant_head_pairs}" in head
    assert "  kappa_ratio:\n    mlp: " in head
    assert "| junction | count | κ/κ₀ | flag overlap | imbalance β |" in body
    assert "residual stream" in body


def test_front_matter_is_valid_yaml_shape(report: Report) -> None:
    """Every line is `key: value` or a nested key, indented by two spaces per level."""
    for line in front_matter(report).splitlines():
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0 and ":" in line


@pytest.mark.parametrize("name", PLOT_NAMES)
def test_plots_are_pngs(report: Report, name: str) -> None:
    png = render_plot(report, name)
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_unknown_plot_is_a_key_error(report: Report) -> None:
    with pytest.raises(KeyError):
        render_plot(report, "nope")
