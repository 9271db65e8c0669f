"""collection's part of the assessment (考核) of a league/city for a fee period (policy 二(一)1,
二(二)4): the share of its declarations paid in full by their due date, the money due, paid and
outstanding as of the command's date, the late fees, the open annuity base findings and the
coverage of institution staff by the occupational annuity. Pure: the figures come from one query
(store.assessment); this names and checks them."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from shared.contracts.assessment import share_bp
from shared.ids import assessment_id
from shared.money import format_yuan


class EntityFigures(NamedTuple):
    fiscal_entity_code: str
    registered: int
    paid_on_time: int
    due_fen: int
    paid_fen: int
    outstanding_fen: int
    late_fee_fen: int
    findings_open: int
    members: int
    without_annuity: int


def assessed_data(figures: EntityFigures, *, command_id: str, period: str, as_of: dt.date,
                  rule_version: str) -> dict[str, Any]:
    """`collection.assessment.computed.v1`."""
    return {
        "assessment_id": assessment_id("collection", figures.fiscal_entity_code, period,
                                       command_id),
        "command_id": command_id, "fiscal_entity_code": figures.fiscal_entity_code,
        "period": period, "as_of": as_of.isoformat(), "rule_version": rule_version,
        "declarations_registered": figures.registered,
        "declarations_paid_on_time": figures.paid_on_time,
        "share_paid_on_time_bp": share_bp(figures.paid_on_time, figures.registered),
        "amount_due": format_yuan(figures.due_fen),
        "amount_paid": format_yuan(figures.paid_fen),
        "amount_outstanding": format_yuan(figures.outstanding_fen),
        "late_fees": format_yuan(figures.late_fee_fen),
        "annuity_base_findings_open": figures.findings_open,
        "institution_members": figures.members,
        "institution_members_without_annuity": figures.without_annuity,
    }
