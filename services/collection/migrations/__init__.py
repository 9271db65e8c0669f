"""Numbered, forward-only SQL migrations of the collection schema.

`MUTABLE_TABLES`: what the service's role may do beyond SELECT and INSERT (shared/db.py).
"""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "declaration": ("UPDATE",),  # the current revision's figures, paid amounts; locked FOR UPDATE
    "payment": ("UPDATE",),  # waiting -> settled | rejected
    "ea_filing": ("UPDATE",),  # an enterprise annuity filing's current revision; FOR UPDATE
    "annuity_base_finding": ("UPDATE",),  # open -> resolved, or its kind or figures change
}
