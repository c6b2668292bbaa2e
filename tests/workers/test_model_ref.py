"""Model ids and revisions are validated before they reach URLs, keys or paths."""

from __future__ import annotations

import pytest

from workers.errors import InvalidModelIdError, InvalidRevisionError
from workers.model_ref import validate_model_id, validate_revision


@pytest.mark.parametrize("model_id", ["org/name", "gpt2", "Org-1/model.v2_x"])
def test_valid_ids_pass(model_id: str) -> None:
    assert validate_model_id(model_id) == model_id


@pytest.mark.parametrize("model_id", ["", "../etc/passwd", "org/../x", "a/b/c", "org/na me", "org\\name", "/abs", "o/"])
def test_malformed_or_traversing_ids_are_rejected(model_id: str) -> None:
    with pytest.raises(InvalidModelIdError):
        validate_model_id(model_id)


@pytest.mark.parametrize("revision", [None, "main", "v1.0", "refs/pr/1", "a" * 40])
def test_valid_revisions_pass(revision: str | None) -> None:
    assert validate_revision(revision) == revision


@pytest.mark.parametrize("revision", ["", "../x", "a//b", "main/", "-x", "x" * 200, "a b"])
def test_bad_revisions_are_rejected(revision: str) -> None:
    with pytest.raises(InvalidRevisionError):
        validate_revision(revision)
