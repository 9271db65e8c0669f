"""Session-wide clean-up of what tests create on the shared broker and database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.support import remove_created


@pytest.fixture(scope="session", autouse=True)
async def _remove_test_topics_and_schemas() -> AsyncIterator[None]:
    yield
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        await remove_created()
