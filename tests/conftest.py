"""Markers by folder, the stack check, and session-wide clean-up of what tests create."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.support import remove_created

MARKER_BY_FOLDER = {"integration": "integration", "e2e": "e2e", "faults": "faults",
                    "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder in MARKER_BY_FOLDER:
            item.add_marker(getattr(pytest.mark, MARKER_BY_FOLDER[folder]))


@pytest.fixture(scope="session")
def stack_env() -> None:
    """Tests on the real broker and database fail clearly when the stack is not configured.

    It returns nothing: a fixture's value is printed with a failing test, and DATABASE_URL
    holds a password."""
    missing = [n for n in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL") if not os.environ.get(n)]
    if missing:
        pytest.fail(f"{missing} not set: run the tests through `make test` (it starts the stack)")


@pytest.fixture(scope="session", autouse=True)
async def _remove_test_topics_and_schemas() -> AsyncIterator[None]:
    yield
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        await remove_created()
