"""The batch handler: collection events -> credits, transfer notices -> completions, commands.

One batch is one transaction (shared.messaging). Events are grouped by kind and handled in bulk:
first the collection events (so a deadline check in the same batch sees their credits), then the
transfer notices, then the operator commands in their own order. Records of different topics have
no order between them anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import asyncpg
from pydantic import BaseModel, ValidationError

from services.occupational_annuity import checks, domain, events, inbound, store
from services.occupational_annuity.domain import Credit, Rules
from shared.contracts import annuity as contract
from shared.contracts.fields import parse_date, reasons_from_error
from shared.logging import get_logger
from shared.messaging import Batch, Cause, Handling, Inbound, Outbox
from shared.money import parse_yuan

log = get_logger("occupational_annuity")
_M = TypeVar("_M", bound=BaseModel)

CODES_BY_FIELD: Final = {
    "amount_paid": "AMOUNT_INVALID", "amount_outstanding": "AMOUNT_INVALID",
    "employer_amount": "AMOUNT_INVALID", "employee_amount": "AMOUNT_INVALID",
    "amount": "AMOUNT_INVALID", "amount_settled": "AMOUNT_INVALID",
    "paid_on": "DATE_INVALID", "value_date": "DATE_INVALID",
}


def make_handling(rules: Rules) -> Handling:
    async def handle(conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None:
        kinds = _by_kind(batch.events)
        await handle_collection(conn, kinds.get("collection", []), outbox, rules)
        await handle_notices(conn, kinds.get("notice", []), outbox)
        await checks.handle_commands(conn, kinds.get("command", []), outbox, rules)
        checks.answer_conflicts(batch.conflicts, outbox)

    return Handling(apply=handle)


def _by_kind(events_: Iterable[Inbound]) -> dict[str, list[Inbound]]:
    kinds: dict[str, list[Inbound]] = {}
    for event in events_:
        kind = event.type.split(".", 1)[0]
        kinds.setdefault({"collection": "collection", "transfer": "notice"}.get(kind, "command"),
                         []).append(event)
    return kinds


@dataclass
class _Invalid:
    rows: list[tuple[str, str, str, list[dict[str, Any]]]] = field(default_factory=list)

    def validate(self, model: type[_M], event: Inbound) -> _M | None:
        """The reader's view of an event, or None (recorded and logged, never silently lost)."""
        try:
            return model.model_validate(event.data)
        except ValidationError as error:
            reasons = reasons_from_error(error, CODES_BY_FIELD)
            self.rows.append((event.envelope.source, event.envelope.id, event.type, reasons))
            log.warning("event.ignored", event_type=event.type, event_id=event.envelope.id,
                        codes=sorted({r["code"] for r in reasons}),
                        fields=sorted({str(r["field"]) for r in reasons}))
            return None

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.rows:
            await store.record_ignored(conn, self.rows)


# ---- collection.declarations -------------------------------------------------------------------


@dataclass
class _Collection:
    registered: dict[str, inbound.RegisteredHeader] = field(default_factory=dict)
    settled: list[inbound.ContributionSettled] = field(default_factory=list)
    # The later of two causes gives an event its correlation (CONTRACTS.md, "Envelope").
    trigger: dict[str, Inbound] = field(default_factory=dict)
    payment_cause: dict[str, Inbound] = field(default_factory=dict)


def _parse_collection(events_: Sequence[Inbound], invalid: _Invalid) -> _Collection:
    parsed = _Collection()
    for event in events_:
        if event.type == inbound.DECLARATION_REGISTERED:
            view = _registered_view(event, invalid)
            if view is None:
                continue
            current = parsed.registered.get(view.declaration_id)
            if current is None or current.revision < view.revision:
                parsed.registered[view.declaration_id] = view
        else:
            settled = invalid.validate(inbound.ContributionSettled, event)
            if settled is None:
                continue
            parsed.settled.append(settled)
            parsed.payment_cause[settled.payment_id] = event
        parsed.trigger.pop(event.data["declaration_id"], None)
        parsed.trigger[event.data["declaration_id"]] = event
    return parsed


def _registered_view(event: Inbound, invalid: _Invalid) -> inbound.RegisteredHeader | None:
    """Only annuity declarations are read in full; others need just their id and revision."""
    header = invalid.validate(inbound.RegisteredHeader, event)
    if header is None or header.scheme != domain.ANNUITY_SCHEME:
        return header
    return invalid.validate(inbound.RegisteredAnnuity, event)


async def handle_collection(
    conn: asyncpg.Connection, events_: Sequence[Inbound], outbox: Outbox, rules: Rules
) -> None:
    if not events_:
        return
    invalid = _Invalid()
    parsed = _parse_collection(events_, invalid)
    await invalid.flush(conn)
    touched = await _register(conn, parsed.registered)
    if parsed.settled:
        new = await store.insert_settlements(conn, [_settlement_row(s) for s in parsed.settled])
        touched |= {s.declaration_id for s in parsed.settled if s.payment_id in new}
    await _settle(conn, [d for d in parsed.trigger if d in touched], parsed, outbox, rules)


async def _register(
    conn: asyncpg.Connection, registered: dict[str, inbound.RegisteredHeader]
) -> set[str]:
    """Apply new declarations and revisions; returns the annuity ones that changed."""
    if not registered:
        return set()
    rows = [_declaration_row(view) for view in registered.values()]
    changed = await store.upsert_declarations(conn, rows)
    annuity = [v for v in registered.values()
               if isinstance(v, inbound.RegisteredAnnuity) and v.declaration_id in changed]
    others = sorted(d for d in changed if d not in {v.declaration_id for v in annuity})
    await store.replace_lines(conn, sorted(changed), [
        (v.declaration_id, line.line_no, line.person_id, parse_yuan(line.employer_amount),
         parse_yuan(line.employee_amount))
        for v in annuity for line in v.lines
    ])
    if others:
        await store.drop_waiting_settlements(conn, others)
    return {v.declaration_id for v in annuity}


def _declaration_row(view: inbound.RegisteredHeader) -> tuple[Any, ...]:
    if isinstance(view, inbound.RegisteredAnnuity):
        return (view.declaration_id, view.revision, view.scheme, view.fiscal_entity_code,
                view.fee_period, view.unit_funding)
    return (view.declaration_id, view.revision, view.scheme, None, None, None)


def _settlement_row(view: inbound.ContributionSettled) -> tuple[Any, ...]:
    return (view.payment_id, view.declaration_id, view.revision, view.status,
            parse_date(view.paid_on), parse_yuan(view.amount_paid),
            parse_yuan(view.amount_outstanding))


async def _settle(
    conn: asyncpg.Connection, declaration_ids: list[str], parsed: _Collection, outbox: Outbox,
    rules: Rules,
) -> None:
    """Credit what is now both registered and paid; report each payment that left it short."""
    if not declaration_ids:
        return
    declarations = await store.lock_annuity_declarations(conn, declaration_ids)
    settlements = await store.load_settlements(conn, declarations)
    credits: list[Credit] = []
    reported: list[str] = []
    for declaration_id in declaration_ids:  # the order of their last event in the batch
        if declaration_id not in declarations:
            continue
        declaration, credited = declarations[declaration_id]
        decision = domain.decide_credit(
            declaration, settlements.get(declaration_id, []), credited=credited)
        _report_uncredited(declaration, decision.uncredited_payment_ids, parsed, outbox)
        reported.extend(decision.uncredited_payment_ids)
        if decision.credit is not None:
            credits.append(decision.credit)
    if reported:
        await store.mark_uncredited_reported(conn, reported)
    await _credit(conn, credits, parsed, outbox, rules)


def _report_uncredited(
    declaration: domain.Declaration, payment_ids: Sequence[str], parsed: _Collection,
    outbox: Outbox,
) -> None:
    for payment_id in payment_ids:
        # A payment that waited for its declaration is reported when the declaration arrives.
        cause = parsed.payment_cause.get(payment_id, parsed.trigger[declaration.declaration_id])
        outbox.event(topic=contract.TOPIC_LEDGER, key=declaration.fiscal_entity_code,
                     event_type=contract.CONTRIBUTION_UNCREDITED,
                     data=events.uncredited(declaration.declaration_id, payment_id),
                     cause=Cause.of(cause))


async def _credit(
    conn: asyncpg.Connection, credits: list[Credit], parsed: _Collection, outbox: Outbox,
    rules: Rules,
) -> None:
    if not credits:
        return
    claimed = await store.insert_credits(conn, [_credit_row(c, rules) for c in credits])
    booked = [c for c in credits if c.declaration.declaration_id in claimed]
    await store.insert_entries(conn, [e for c in booked for e in _credit_entries(c)])
    collected: dict[tuple[str, str], int] = {}
    for credit in booked:
        key = (credit.declaration.fiscal_entity_code, credit.declaration.fee_period)
        collected[key] = collected.get(key, 0) + credit.funded_fen
        outbox.event(topic=contract.TOPIC_LEDGER, key=key[0],
                     event_type=contract.CONTRIBUTION_CREDITED, data=events.credited(credit),
                     cause=Cause.of(parsed.trigger[credit.declaration.declaration_id]))
    await store.add_collected(conn, collected)


def _credit_row(credit: Credit, rules: Rules) -> tuple[Any, ...]:
    d = credit.declaration
    return (d.declaration_id, d.revision, credit.payment_id, d.fiscal_entity_code, d.fee_period,
            d.unit_funding, credit.total("individual_real"), credit.total("unit_real"),
            credit.total("unit_notional"), domain.topup_state(credit, rules))


def _credit_entries(credit: Credit) -> list[tuple[Any, ...]]:
    d = credit.declaration
    effective_on = domain.period_start(d.fee_period)
    return [
        (m.person_id, sub_ledger, amount_fen, d.fiscal_entity_code, d.fee_period, effective_on,
         "contribution", d.declaration_id)
        for m in credit.members
        for sub_ledger, amount_fen in (("individual_real", m.individual_real_fen),
                                       ("unit_real", m.unit_real_fen),
                                       ("unit_notional", m.unit_notional_fen))
        if amount_fen > 0
    ]


# ---- transfer.notices --------------------------------------------------------------------------

ANNUITY_PURPOSES: Final = frozenset({"annuity_remittance", "annuity_interest_topup"})


async def handle_notices(
    conn: asyncpg.Connection, events_: Sequence[Inbound], outbox: Outbox
) -> None:
    invalid = _Invalid()
    for event in events_:
        header = invalid.validate(inbound.NoticeHeader, event)
        if header is None or header.purpose not in ANNUITY_PURPOSES:
            continue  # subsidy notices are fund_transfer's own business
        view: inbound.NoticeSettled | inbound.NoticeFailed | None
        if event.type == inbound.NOTICE_SETTLED:
            view = invalid.validate(inbound.NoticeSettled, event)
        else:
            view = invalid.validate(inbound.NoticeFailed, event)
        if view is None:
            continue
        ours = await store.our_request_ids(conn, view.covers)
        if ours and not domain.notice_matches(view.notice_id, view.attempt, ours):
            # Finance's settlement is a fact either way; the mismatch is worth a look.
            log.warning("notice.unexpected_id", notice_id=view.notice_id, attempt=view.attempt)
        if ours and await store.claim_notice(conn, _notice_values(view)):
            await _apply_notice(conn, view, sorted(ours), event, outbox)
    await invalid.flush(conn)


def _notice_values(view: inbound.NoticeSettled | inbound.NoticeFailed) -> dict[str, Any]:
    values: dict[str, Any] = {
        "notice_id": view.notice_id, "purpose": view.purpose, "covers": list(view.covers),
        "amount_fen": parse_yuan(view.amount),
        "amount_settled_fen": parse_yuan(view.amount_settled),
    }
    if isinstance(view, inbound.NoticeSettled):
        return {**values, "outcome": "settled", "value_date": parse_date(view.value_date)}
    return {**values, "outcome": "failed", "reason": view.reason, "replaced_by": view.replaced_by}


async def _apply_notice(
    conn: asyncpg.Connection, view: inbound.NoticeSettled | inbound.NoticeFailed,
    request_ids: list[str], event: Inbound, outbox: Outbox,
) -> None:
    if isinstance(view, inbound.NoticeFailed):
        # A replaced notice is followed by its replacement; an exhausted one leaves the request
        # open, so a remittance shows up as overdue and a top-up stays unallocated.
        log.warning("notice.failed", notice_id=view.notice_id, purpose=view.purpose,
                    reason=view.reason[:200], replaced_by=view.replaced_by)
        return
    remittances = await store.lock_remittances(conn, request_ids)
    assessments = await store.lock_assessments(conn, request_ids)
    covered_fen = sum(r["amount_fen"] for r in remittances) + sum(
        a["total_fen"] for a in assessments)
    if not domain.is_funded_in_full(parse_yuan(view.amount_settled), covered_fen):
        log.error("notice.short", notice_id=view.notice_id, covered_fen=covered_fen,
                  amount_settled=view.amount_settled)
        return
    await _complete_remittances(conn, remittances, view, event, outbox)
    await _allocate_topups(conn, assessments, view, event, outbox)


async def _complete_remittances(
    conn: asyncpg.Connection, rows: list[dict[str, Any]], view: inbound.NoticeSettled,
    event: Inbound, outbox: Outbox,
) -> None:
    value_date = parse_date(view.value_date)
    for row in rows:
        if row["status"] == "completed":
            continue
        on_time = domain.is_on_time(value_date, row["due_on"])
        await store.complete_remittance(conn, row["remittance_id"], view.notice_id, value_date,
                                        on_time)
        outbox.event(topic=contract.TOPIC_LEDGER, key=row["fiscal_entity_code"],
                     event_type=contract.REMITTANCE_COMPLETED,
                     data=events.remittance_completed(row, view.notice_id, value_date, on_time),
                     cause=Cause.of(event))


async def _allocate_topups(
    conn: asyncpg.Connection, rows: list[dict[str, Any]], view: inbound.NoticeSettled,
    event: Inbound, outbox: Outbox,
) -> None:
    value_date = parse_date(view.value_date)
    for row in rows:
        if row["status"] != "funding":
            continue
        members = await store.topup_members(conn, row["assessment_id"])
        if sum(m.interest_fen for m in members) != row["total_fen"]:
            raise AssertionError(f"top-up {row['assessment_id']} members do not sum to its total")
        await store.insert_entries(conn, [
            (m.person_id, "interest_topup", m.interest_fen, row["fiscal_entity_code"],
             row["fee_period"], value_date, "interest_topup", row["assessment_id"])
            for m in members if m.interest_fen > 0
        ])
        await store.mark_allocated(conn, row["assessment_id"], view.notice_id)
        outbox.event(topic=contract.TOPIC_LEDGER, key=row["fiscal_entity_code"],
                     event_type=contract.INTEREST_TOPUP_ALLOCATED,
                     data=events.topup_allocated(row, view.notice_id, members),
                     cause=Cause.of(event))
