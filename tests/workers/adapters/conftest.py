"""Fixtures shared by the adapter tests: each tiny family is built and saved once per session."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.workers.adapters._models import FAMILIES, Built, build


@pytest.fixture(scope="session")
def built_family(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Built]:
    """Build-and-save of a family by test id, cached for the session."""
    cache: dict[str, Built] = {}

    def get(name: str) -> Built:
        if name not in cache:
            cache[name] = build(FAMILIES[name], tmp_path_factory.mktemp(name))
        return cache[name]

    return get
