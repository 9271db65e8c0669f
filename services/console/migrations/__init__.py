"""Numbered, forward-only SQL migrations of the console's read model.

`MUTABLE_TABLES`: what the console's role may do beyond SELECT and INSERT (shared/db.py); the
events and dead letters it copies are append-only for it.
"""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "report_period": ("UPDATE",),  # the versions a batch dirties and the refresher builds
    "report_snapshot": ("UPDATE",),  # a rebuilt report replaces the last one
}
