"""Fixtures for tests on the real broker and database (started by `make up`)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    missing = [n for n in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL") if not os.environ.get(n)]
    if missing:
        pytest.fail(f"{missing} not set: run the tests through `make test` (it starts the stack)")
    return {n: os.environ[n] for n in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
