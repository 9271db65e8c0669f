"""Operator commands on ops.commands: the deadline check and the yearly notional interest.

A deadline check (as_of) requests the remittances whose request day has come, assesses the
interest top-up of every pre-investment period with unassessed credits, and reports remittances
past due (once per remittance and as_of). Commands arrive on a single partition, in order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final, TypeVar

import asyncpg

from services.occupational_annuity import domain, events, store
from services.occupational_annuity.domain import Rules, TopupAssessment, TopupBlocked
from shared.contracts import annuity as contract
from shared.contracts.fields import (
    CommandRejected,
    DeadlineCheckRequested,
    NotionalInterestRequested,
    Reason,
    cap_reasons,
    parse_date,
    validate_contract,
)
from shared.contracts.registry import TOPIC_OPS_COMMANDS
from shared.logging import get_logger
from shared.messaging import Cause, Inbound, Outbox

SERVICE: Final = "occupational_annuity"
DEADLINE_CHECK: Final = "ops.deadline_check.requested.v1"
NOTIONAL_INTEREST: Final = "ops.notional_interest.requested.v1"
COMMAND_REJECTED: Final = "ops.command.rejected.v1"
COMMAND_CODES: Final = {"as_of": "DATE_INVALID"}

log = get_logger("occupational_annuity")
_Command = TypeVar("_Command", DeadlineCheckRequested, NotionalInterestRequested)


async def handle_commands(
    conn: asyncpg.Connection, commands: Sequence[Inbound], outbox: Outbox, rules: Rules
) -> None:
    for command in commands:
        if command.type == DEADLINE_CHECK:
            check = _validated(DeadlineCheckRequested, command, outbox)
            if check is not None:
                await deadline_check(conn, parse_date(check.as_of), command, outbox, rules)
        elif command.type == NOTIONAL_INTEREST:
            request = _validated(NotionalInterestRequested, command, outbox)
            if request is not None:
                await notional_interest(conn, request, command, outbox, rules)


def _validated(model: type[_Command], command: Inbound, outbox: Outbox) -> _Command | None:
    checked = validate_contract(model, command.data, COMMAND_CODES)
    if checked.model is None:
        _reject(command, outbox, cap_reasons(checked.reasons, checked.more))
    return checked.model


def _reject(command: Inbound, outbox: Outbox, reasons: list[dict[str, object]]) -> None:
    data = CommandRejected(
        command_id=command.envelope.entity_id, service=SERVICE,
        reasons=[Reason.model_validate(reason) for reason in reasons],
    ).model_dump()
    outbox.event(topic=TOPIC_OPS_COMMANDS, key=SERVICE, event_type=COMMAND_REJECTED, data=data,
                 cause=Cause.of(command))


def answer_conflicts(conflicts: Sequence[Inbound], outbox: Outbox) -> None:
    """A reused event id with other content: commands are answered, the rest stays recorded."""
    for conflict in conflicts:
        log.warning("event.conflict", event_type=conflict.type, event_id=conflict.envelope.id,
                    source=conflict.envelope.source)
        if conflict.type in (DEADLINE_CHECK, NOTIONAL_INTEREST):
            _reject(conflict, outbox, [{
                "code": "CONFLICTING_DUPLICATE", "field": None,
                "message": "this command id was used before with other content",
            }])


# ---- deadline check ----------------------------------------------------------------------------


async def deadline_check(
    conn: asyncpg.Connection, as_of: dt.date, command: Inbound, outbox: Outbox, rules: Rules
) -> None:
    cause = Cause.of(command)
    await _request_remittances(conn, as_of, cause, outbox, rules)
    await _assess_topups(conn, as_of, cause, outbox, rules)
    await _report_overdue(conn, as_of, cause, outbox)


async def _request_remittances(
    conn: asyncpg.Connection, as_of: dt.date, cause: Cause, outbox: Outbox, rules: Rules
) -> None:
    plans = domain.plan_remittances(await store.lock_unrequested_periods(conn), as_of, rules)
    if not plans:
        return
    await store.insert_remittances(conn, plans)
    for plan in plans:
        outbox.event(topic=events.TOPIC_TRANSFER_REQUESTS, key=plan.fiscal_entity_code,
                     event_type=events.TRANSFER_REQUESTED, data=events.remittance_transfer(plan),
                     cause=cause)
        outbox.event(topic=contract.TOPIC_LEDGER, key=plan.fiscal_entity_code,
                     event_type=contract.REMITTANCE_REQUESTED,
                     data=events.remittance_requested(plan, rules.rule_version), cause=cause)


async def _assess_topups(
    conn: asyncpg.Connection, as_of: dt.date, cause: Cause, outbox: Outbox, rules: Rules
) -> None:
    pending = await store.lock_pending_topup_credits(conn)
    if not pending:
        return
    principals = await store.principals(conn, [d for ids in pending.values() for d in ids])
    sequences = await store.lock_topup_counts(conn, list(pending))
    blocked: list[TopupBlocked] = []
    for key in sorted(pending):
        outcome = domain.assess_topup(key[0], key[1], sequence=sequences.get(key, 0),
                                      principals=principals.get(key, {}), as_of=as_of,
                                      rules=rules)
        if isinstance(outcome, TopupBlocked):
            blocked.append(outcome)
        elif outcome is None:
            await store.mark_topup_not_applicable(conn, pending[key])
        else:
            await store.insert_assessment(conn, outcome, pending[key], as_of)
            _publish_assessment(outcome, cause, outbox)
    if blocked:
        await store.hold_topups(conn, blocked, as_of)
        log.warning("topup.rate_missing", periods=len(blocked),
                    years=sorted({y for b in blocked for y in b.missing_years}))


def _publish_assessment(assessment: TopupAssessment, cause: Cause, outbox: Outbox) -> None:
    entity = assessment.fiscal_entity_code
    if assessment.total_fen > 0:  # a total that rounds to 0.00 has nothing to fund
        outbox.event(topic=events.TOPIC_TRANSFER_REQUESTS, key=entity,
                     event_type=events.TRANSFER_REQUESTED,
                     data=events.topup_transfer(assessment), cause=cause)
    outbox.event(topic=contract.TOPIC_LEDGER, key=entity,
                 event_type=contract.INTEREST_TOPUP_ASSESSED,
                 data=events.topup_assessed(assessment), cause=cause)


async def _report_overdue(
    conn: asyncpg.Connection, as_of: dt.date, cause: Cause, outbox: Outbox
) -> None:
    due = [r for r in await store.open_remittances(conn) if domain.is_past_due(r["due_on"], as_of)]
    if not due:
        return
    claimed = await store.claim_overdue_reports(conn, [r["remittance_id"] for r in due], as_of)
    for row in due:
        if row["remittance_id"] in claimed:
            outbox.event(topic=contract.TOPIC_LEDGER, key=row["fiscal_entity_code"],
                         event_type=contract.REMITTANCE_OVERDUE,
                         data=events.remittance_overdue(row, as_of), cause=cause)


# ---- notional interest -------------------------------------------------------------------------


async def notional_interest(
    conn: asyncpg.Connection, request: NotionalInterestRequested, command: Inbound,
    outbox: Outbox, rules: Rules,
) -> None:
    """Each member's notional balance of earlier periods x the year's rate, once per year."""
    rate = rules.notional_rates.get(request.year)
    if rate is None:
        _refuse_notional(request, command, outbox)
        return
    balances = await store.notional_balances(conn, domain.notional_cutoff(request.year),
                                             request.year)
    postings = domain.post_notional(balances, rate)
    claimed = await store.claim_notional_postings(conn, postings, request.year, rate.text,
                                                  request.command_id)
    posted = [p for p in postings if (p.person_id, p.fiscal_entity_code) in claimed]
    effective_on = domain.notional_effective_on(request.year)
    await store.insert_entries(conn, [
        (p.person_id, "unit_notional", p.interest_fen, p.fiscal_entity_code, None, effective_on,
         "notional_interest", str(request.year))
        for p in posted
    ])
    for entity in domain.by_entity(posted):
        outbox.event(topic=contract.TOPIC_LEDGER, key=entity.fiscal_entity_code,
                     event_type=contract.NOTIONAL_INTEREST_POSTED,
                     data=events.notional_posted(entity, request.year, rate, request.command_id,
                                                 rules.rule_version),
                     cause=Cause.of(command))


def _refuse_notional(request: NotionalInterestRequested, command: Inbound, outbox: Outbox) -> None:
    log.warning("notional_interest.refused", year=request.year, reason="RATE_NOT_CONFIGURED")
    outbox.event(topic=contract.TOPIC_LEDGER, key=domain.REGION_CODE,
                 event_type=contract.NOTIONAL_INTEREST_REFUSED,
                 data=events.notional_refused(request.command_id, request.year),
                 cause=Cause.of(command))
