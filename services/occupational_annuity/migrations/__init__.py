"""Numbered, forward-only SQL migrations of the occupational_annuity schema.

`MUTABLE_TABLES`: what the service's role may do beyond SELECT and INSERT (shared/db.py); the
members' ledger (entry) is append-only for it, as are postings, assessments' members, notices,
personnel events, funded members and posted years.
"""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "declaration": ("UPDATE",),  # latest revision kept; credited_at
    "declaration_line": ("DELETE",),  # a new revision replaces the lines of the previous one
    "settlement": ("UPDATE", "DELETE"),  # underpayment reported; replaced with a new revision
    "credit": ("UPDATE",),  # top-up state
    "period_account": ("UPDATE",),  # collected and requested sums
    "remittance": ("UPDATE",),  # requested -> completed
    "topup_assessment": ("UPDATE",),  # funding -> allocated
    "topup_hold": ("UPDATE", "DELETE"),  # periods waiting for a rate
    "transfer_request": ("UPDATE",),  # money settled over its notices; completed
    "notional_funding": ("UPDATE",),  # requested -> completed
    "backcredit": ("UPDATE",),  # requested -> completed
}
