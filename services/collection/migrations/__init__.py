"""Numbered, forward-only SQL migrations of the collection schema.

`MUTABLE_TABLES`: what the service's role may do beyond SELECT and INSERT (shared/db.py).
"""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "declaration": ("UPDATE",),  # the current revision's figures, paid amounts; locked FOR UPDATE
    "payment": ("UPDATE",),  # waiting -> settled | rejected
}
