"""Numbered, forward-only SQL migrations of the fund_transfer schema.

`MUTABLE_TABLES`: what the service's role may do beyond SELECT and INSERT (shared/db.py); the
ledger (journal, entry) is append-only for it, as are appropriations and requests.
"""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "obligation": ("UPDATE",),  # amounts due and settled
    "notice": ("UPDATE",),  # issued -> settled | failed
    "settlement": ("UPDATE",),  # a waiting report is applied once its notice exists
}
