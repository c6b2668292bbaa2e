"""Service subcommands of ``flagscan``: ``worker``, ``serve`` and ``openapi`` (filled in with the service)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the service subcommands."""
