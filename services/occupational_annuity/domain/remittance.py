"""Upward remittance (上划) of collected money, and its deadlines (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from services.occupational_annuity.domain.terms import (
    REGION_CODE,
    remittance_due_on,
    remittance_request_on,
)
from services.occupational_annuity.model import PeriodPosition, Remittance, RemittancePlan, Rules
from shared.ids import notice_id_for_request, remittance_id


def plan_remittances(
    positions: Iterable[PeriodPosition], as_of: dt.date, rules: Rules
) -> list[RemittancePlan]:
    """Everything collected and not yet requested, once its request day has come.

    Money collected after a period's first request goes in a supplementary remittance
    (sequence + 1) with the same due day: the contribution was due upward by then regardless.
    The region's own units pay straight into the regional account, so 150000 never remits.
    """
    plans: list[RemittancePlan] = []
    for p in sorted(positions, key=lambda p: (p.fiscal_entity_code, p.fee_period)):
        pending_fen = p.collected_fen - p.requested_fen
        if p.fiscal_entity_code == REGION_CODE or pending_fen <= 0:
            continue
        if as_of < remittance_request_on(p.fee_period, rules):
            continue
        plans.append(RemittancePlan(
            remittance_id(p.fiscal_entity_code, p.fee_period, p.remittance_count),
            p.fiscal_entity_code, p.fee_period, p.remittance_count, pending_fen, as_of,
            remittance_due_on(p.fee_period, rules),
        ))
    return plans


def is_past_due(due_on: dt.date, as_of: dt.date) -> bool:
    """CONTRACTS.md: past due when as_of is after the due date; the due date itself is on time."""
    return as_of > due_on


def past_due(remittances: Iterable[Remittance], as_of: dt.date) -> list[Remittance]:
    """The open remittances a check as of `as_of` reports overdue."""
    return [r for r in remittances if r.status == "requested" and is_past_due(r.due_on, as_of)]


def notice_matches(notice_id: str, attempt: int | None, request_ids: Iterable[str]) -> bool:
    """Notices for requests have deterministic ids (CONTRACTS.md): uuid5 of request and attempt."""
    if attempt is None:
        return True
    return notice_id in {notice_id_for_request(request_id, attempt) for request_id in request_ids}


def is_on_time(value_date: dt.date, due_on: dt.date) -> bool:
    return value_date <= due_on
