"""The ``flagscan`` command: ``scan`` a model locally, run a ``worker``, ``serve`` the API, write ``openapi``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workers.errors import ScanError


def _print_summary(report: object) -> None:
    from workers.report import Report

    assert isinstance(report, Report)
    s = report.summary
    print(f"\n{report.model.id} ({report.model.architecture}, {report.model.num_layers} layers)")
    print(f"{'junction':<10} {'count':>6} {'κ/κ₀':>8} {'overlap':>8} {'β':>8}")
    for kind, k in s.junctions.items():
        ratio = "n/a" if k.mean_kappa_ratio is None else f"{k.mean_kappa_ratio:.3f}"
        overlap = "n/a" if k.mean_overlap is None else f"{k.mean_overlap:.3f}"
        print(f"{kind:<10} {k.count:>6} {ratio:>8} {overlap:>8} {k.mean_imbalance:>8.3f}")
    for role, h in s.heads.items():
        print(f"head overlap excess {role}: {h.mean_excess:+.4f}")
    gap = "n/a" if s.commutator_gap is None else f"{s.commutator_gap:+.3f}"
    print(f"redundant head pairs: {s.redundant_head_pairs}    commutator gap (mlp − ov): {gap}")
    p = report.provenance
    print(f"read {p.bytes_read / 1e6:.1f} MB of {p.bytes_total / 1e6:.1f} MB needed in {p.seconds:.1f} s on {p.device}")


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan one model in this process with a progress bar; write the JSON report, card and plots."""
    import torch
    from tqdm import tqdm

    from workers.card import model_card
    from workers.device import resolve_device
    from workers.pipeline import Progress, scan
    from workers.plots import PLOT_NAMES, render_plot
    from workers.report import ScanOptions
    from workers.settings import get_settings
    from workers.sources import open_source

    settings = get_settings()
    if settings.FLAGSCAN_TORCH_THREADS:
        torch.set_num_threads(settings.FLAGSCAN_TORCH_THREADS)
    device = resolve_device(args.device or settings.FLAGSCAN_DEVICE)
    options = ScanOptions(tolerance_deg=args.tolerance)
    source = open_source(args.model, args.revision, settings.hub())
    try:
        with tqdm(total=0, unit="layer", desc=f"scanning {source.model_id}", disable=args.quiet) as bar:

            def on_progress(p: Progress) -> None:
                bar.total = p.layers_total
                bar.n = p.layers_done
                bar.set_postfix_str(f"{p.bytes_read / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB")
                bar.refresh()

            report = scan(source, options, device, on_progress)
    finally:
        source.close()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.model_dump_json(indent=1))
    stem = output.with_suffix("")
    stem.with_suffix(".md").write_text(model_card(report))
    for name in PLOT_NAMES:
        Path(f"{stem}.{name}.png").write_bytes(render_plot(report, name))
    _print_summary(report)
    print(f"wrote {output}, {stem.with_suffix('.md')} and {len(PLOT_NAMES)} plots")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="flagscan", description="Layerwise alignment scans of Hub models.")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="scan one model locally and write report, card and plots")
    scan.add_argument("model", help="Hub id (org/name) or a local directory")
    scan.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    scan.add_argument("--output", default="report.json", help="report path; card and plots go beside it")
    scan.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="default: FLAGSCAN_DEVICE")
    scan.add_argument("--tolerance", type=float, default=10.0, help="τ in degrees (default 10)")
    scan.add_argument("--quiet", action="store_true", help="no progress bar")
    scan.set_defaults(func=cmd_scan)
    from service import commands

    commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flagscan`` console script; failures exit 1 with ``error [code]: message``."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ScanError as err:
        print(f"error [{err.code}]: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
