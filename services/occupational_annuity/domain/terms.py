"""The dates the rules set, and the fixed terms of the ledger (DOMAIN.md, "Occupational annuity").

Pure: no I/O, no clock. Dates come in as arguments; periods are "YYYY-MM" strings.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from services.occupational_annuity.model import Rules

REGION_CODE: Final = "150000"
ANNUITY_SCHEME: Final = "occupational_annuity"
DAYS_PER_YEAR: Final = 365  # ACT/365 even in leap years (DOMAIN.md, 补息 default)
CREDITING_STATUSES: Final = frozenset({"paid", "overpaid"})


# ---- dates -------------------------------------------------------------------------------------


def period_start(fee_period: str) -> dt.date:
    return dt.date(int(fee_period[:4]), int(fee_period[5:7]), 1)


def month_after(fee_period: str) -> dt.date:
    """First day of the month after the fee period."""
    start = period_start(fee_period)
    if start.month == 12:
        return dt.date(start.year + 1, 1, 1)
    return dt.date(start.year, start.month + 1, 1)


def remittance_request_on(fee_period: str, rules: Rules) -> dt.date:
    return month_after(fee_period).replace(day=rules.remittance_request_day)


def remittance_due_on(fee_period: str, rules: Rules) -> dt.date:
    return month_after(fee_period).replace(day=rules.remittance_due_day)


def topup_interval(fee_period: str, rules: Rules) -> tuple[dt.date, dt.date] | None:
    """[first day after the period, investment start), or None when that interval is empty."""
    start = month_after(fee_period)
    if start >= rules.investment_start:
        return None
    return start, rules.investment_start


def year_pieces(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    """(year, days) of [start, end) split at each 1 January."""
    pieces: list[tuple[int, int]] = []
    for year in range(start.year, end.year + 1):
        piece_start = max(start, dt.date(year, 1, 1))
        piece_end = min(end, dt.date(year + 1, 1, 1))
        if piece_end > piece_start:
            pieces.append((year, (piece_end - piece_start).days))
    return pieces
