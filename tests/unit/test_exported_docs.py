"""The JSON Schemas and AsyncAPI documents in docs/ are what the code exports today."""

from __future__ import annotations

import pytest

from shared.contracts.export import (
    ASYNCAPI_DIR,
    SCHEMA_DIR,
    event_models,
    render_asyncapi,
    render_schemas,
)
from shared.contracts.registry import ENTITY_FIELDS

REGENERATE = "run `make docs` (python -m shared.contracts.export) and commit the result"


@pytest.mark.parametrize(
    ("directory", "render"), [(SCHEMA_DIR, render_schemas), (ASYNCAPI_DIR, render_asyncapi)]
)
def test_committed_documents_are_not_stale(directory, render) -> None:  # type: ignore[no-untyped-def]
    fresh = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.json")}
    assert set(committed) == set(fresh), REGENERATE
    for name, text in fresh.items():
        assert committed[name] == text, f"{name} is stale: {REGENERATE}"


def test_every_event_type_of_the_contracts_has_a_model() -> None:
    assert set(event_models()) == set(ENTITY_FIELDS)


def test_every_model_names_its_entity_id_field() -> None:
    for event_type, model in event_models().items():
        assert ENTITY_FIELDS[event_type] in model.model_fields, event_type
