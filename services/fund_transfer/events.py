"""Outbound events built from domain state (pure: no I/O, no clock).

Every payload goes through its pydantic model in shared/contracts/transfer.py, so an event that
breaks its contract fails here, at the producer, not at a partner.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from services.fund_transfer.model import (
    Budget,
    GapKind,
    Invalid,
    Notice,
    Obligation,
    Outbound,
    Rules,
)
from shared.contracts import transfer
from shared.contracts.fields import CommandRejected, Contract, Reason
from shared.money import format_yuan

SERVICE: Final = "fund_transfer"
TOPIC_OPS_COMMANDS: Final = "ops.commands"
COMMAND_REJECTED: Final = "ops.command.rejected.v1"


def notice_issued(notice: Notice, rules: Rules) -> Outbound:
    book = rules.book
    source, target = book.account(*notice.source), book.account(*notice.target)
    if source is None or target is None:  # requests are checked against the same book
        raise AssertionError(f"notice {notice.notice_id}: account missing from the book")
    data = transfer.NoticeIssued.model_validate({
        "notice_id": notice.notice_id, "attempt": notice.attempt, "purpose": notice.purpose,
        "fund": notice.fund, "period": notice.period, "amount": format_yuan(notice.amount_fen),
        "due_on": notice.due_on.isoformat(), "source_account": source, "target_account": target,
        "covers": notice.covers, "replaces": notice.replaces, "document_no": notice.document_no,
        "issuing_authority": book.issuing_authority,
    })
    return _notice_event(notice, transfer.NOTICE_ISSUED, data)


def notice_settled(notice: Notice, value_date: dt.date) -> Outbound:
    data = transfer.NoticeSettled.model_validate({
        **_notice_figures(notice), "value_date": value_date.isoformat(),
        "bank_references": list(notice.bank_references),
    })
    return _notice_event(notice, transfer.NOTICE_SETTLED, data)


def notice_failed(notice: Notice, reason: str, failed_on: dt.date) -> Outbound:
    data = transfer.NoticeFailed.model_validate({
        **_notice_figures(notice), "reason": reason, "failed_on": failed_on.isoformat(),
        "replaced_by": notice.replaced_by,
    })
    return _notice_event(notice, transfer.NOTICE_FAILED, data)


def obligation_fulfilled(obligation: Obligation, as_of: dt.date) -> Outbound:
    data = transfer.ObligationFulfilled.model_validate({
        **_figures(obligation), "as_of": as_of.isoformat(),
        "days_late": days_late(obligation, as_of),
    })
    return _obligation_event(obligation, transfer.OBLIGATION_FULFILLED, data)


def obligation_overpaid(obligation: Obligation, as_of: dt.date) -> Outbound:
    data = transfer.ObligationOverpaid.model_validate({
        **_figures(obligation), "amount_excess": format_yuan(obligation.excess_fen),
        "as_of": as_of.isoformat(), "days_late": days_late(obligation, as_of),
    })
    return _obligation_event(obligation, transfer.OBLIGATION_OVERPAID, data)


def obligation_shortfall(obligation: Obligation, as_of: dt.date) -> Outbound:
    data = transfer.ObligationShortfall.model_validate({
        **_figures(obligation), "amount_outstanding": format_yuan(obligation.outstanding_fen),
        "as_of": as_of.isoformat(), "days_late": days_late(obligation, as_of),
    })
    return _obligation_event(obligation, transfer.OBLIGATION_SHORTFALL, data)


def days_late(obligation: Obligation, on: dt.date) -> int:
    """Days after the due date (DOMAIN.md day count: the due date itself is on time)."""
    return max(0, (on - obligation.due_on).days)


def rejected(invalid: Invalid) -> Outbound:
    reasons = [Reason.model_validate(r) for r in invalid.reasons]
    if invalid.kind == "appropriation":
        return Outbound(transfer.TOPIC_OBLIGATIONS, invalid.key, transfer.APPROPRIATION_REJECTED,
                        transfer.AppropriationRejected(appropriation_id=invalid.entity_id,
                                                       reasons=reasons).model_dump())
    if invalid.kind == "settlement":
        return Outbound(transfer.TOPIC_NOTICES, invalid.key, transfer.SETTLEMENT_REJECTED,
                        transfer.SettlementRejected(settlement_id=invalid.entity_id,
                                                    notice_id=invalid.notice_id,
                                                    reasons=reasons).model_dump())
    if invalid.kind == "budget":
        return Outbound(transfer.TOPIC_OBLIGATIONS, invalid.key, transfer.BUDGET_REJECTED,
                        transfer.BudgetRejected(budget_id=invalid.entity_id,
                                                reasons=reasons).model_dump())
    if invalid.kind == "request":
        return Outbound(transfer.TOPIC_NOTICES, invalid.key, transfer.REQUEST_REJECTED,
                        transfer.RequestRejected(request_id=invalid.entity_id,
                                                 reasons=reasons).model_dump())
    return Outbound(TOPIC_OPS_COMMANDS, SERVICE, COMMAND_REJECTED,
                    CommandRejected(command_id=invalid.entity_id, service=SERVICE,
                                    reasons=reasons).model_dump())


def _notice_figures(notice: Notice) -> dict[str, object]:
    return {
        "notice_id": notice.notice_id,
        "attempt": notice.attempt,
        "purpose": notice.purpose,
        "covers": notice.covers,
        "amount": format_yuan(notice.amount_fen),
        "amount_settled": format_yuan(notice.settled_fen),
    }


def _figures(obligation: Obligation) -> dict[str, str]:
    return {
        "fiscal_entity_code": obligation.fiscal_entity_code,
        "fund": obligation.fund,
        "period": obligation.period,
        "due_on": obligation.due_on.isoformat(),
        "amount_due": format_yuan(obligation.amount_due_fen),
        "amount_settled": format_yuan(obligation.settled_fen),
    }


def _notice_event(notice: Notice, event_type: str, data: Contract) -> Outbound:
    # Keyed by the source fiscal entity, so one entity's notices stay in order on one partition.
    return Outbound(transfer.TOPIC_NOTICES, notice.source[0], event_type, data.model_dump())


def _obligation_event(obligation: Obligation, event_type: str, data: Contract) -> Outbound:
    return Outbound(transfer.TOPIC_OBLIGATIONS, obligation.fiscal_entity_code, event_type,
                    data.model_dump())


def budget_recorded(budget: Budget, replaces_revision: int | None) -> Outbound:
    data = transfer.BudgetRecorded.model_validate({
        "budget_id": budget.budget_id, "revision": budget.revision,
        "replaces_revision": replaces_revision, "fiscal_entity_code": budget.fiscal_entity_code,
        "fund": budget.fund, "year": budget.year,
        "amount_per_month": format_yuan(budget.amount_per_month_fen),
        "document_no": budget.document_no,
    }).model_dump()
    return Outbound(transfer.TOPIC_OBLIGATIONS, budget.fiscal_entity_code,
                    transfer.BUDGET_RECORDED, data)


def budget_gap(kind: GapKind, budget: Budget, period: str, *, appropriated_fen: int,
               due_on: dt.date, as_of: dt.date, rule_version: str) -> Outbound:
    """`transfer.appropriation.missing.v1` or `.below_budget.v1`."""
    model = (transfer.AppropriationMissing if kind == "missing"
             else transfer.AppropriationBelowBudget)
    data = model.model_validate({
        "fiscal_entity_code": budget.fiscal_entity_code, "fund": budget.fund, "period": period,
        "budget_id": budget.budget_id,
        "amount_budgeted": format_yuan(budget.amount_per_month_fen),
        "amount_appropriated": format_yuan(appropriated_fen),
        "amount_short": format_yuan(budget.amount_per_month_fen - appropriated_fen),
        "due_on": due_on.isoformat(), "as_of": as_of.isoformat(),
        "days_late": (as_of - due_on).days, "rule_version": rule_version,
    }).model_dump()
    event_type = (transfer.APPROPRIATION_MISSING if kind == "missing"
                  else transfer.APPROPRIATION_BELOW_BUDGET)
    return Outbound(transfer.TOPIC_OBLIGATIONS, budget.fiscal_entity_code, event_type, data)
