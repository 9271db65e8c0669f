"""Migrations of the test probe service: one append-only effect table."""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {}
