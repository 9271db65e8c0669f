"""Collection's batch handler: load what the batch touches, let the domain decide, write in bulk.

One call per consumed batch, inside its transaction. Declarations and payments between two
deadline checks (or enterprise annuity filings) form a segment: their declaration rows are
locked and loaded with one query each, the pure `Book` plays the segment in consumption order,
and its changes go back with COPY and unnest; then the annuity base check compares the
occupational annuity and basic-pension lines of the employers and periods the segment
registered. A deadline check is one set-based statement over all declarations; a run of
enterprise annuity filings is played by its own book after the declarations before it.
"""

from __future__ import annotations

from typing import Any, cast

import asyncpg

from services.collection import SERVICE_NAME, store
from services.collection.domain import (
    Account,
    Book,
    Emit,
    annuity_base,
    assessment,
    declaration_rejected_data,
    overdue_data,
    payment_reason,
    payment_rejected_data,
)
from services.collection.rules import Rules
from services.collection.validation import (
    CommandCheck,
    DeclarationCheck,
    PaymentCheck,
    check_assessment_command,
    check_deadline_command,
    check_declaration,
    check_payment,
    reason,
)
from services.collection.validation.enterprise_annuity import (
    EnterpriseAnnuityCheck,
    check_enterprise_annuity,
)
from shared.contracts.assessment import ASSESSMENT_REQUESTED, COLLECTION_ASSESSED
from shared.contracts.collection import (
    DECLARATION_REJECTED,
    ENTERPRISE_ANNUITY_REJECTED,
    OVERDUE,
    PAYMENT_REJECTED,
    REGISTERED,
    TOPIC_DECLARATIONS,
)
from shared.contracts.registry import TOPIC_OPS_COMMANDS
from shared.contracts.tax import DECLARED, ENTERPRISE_ANNUITY_DECLARED, PAID
from shared.contracts.wire import echo_text
from shared.logging import get_logger
from shared.messaging import Batch, Cause, Handling, Inbound, Outbox

DEADLINE_CHECK = "ops.deadline_check.requested.v1"
COMMANDS = frozenset({DEADLINE_CHECK, ASSESSMENT_REQUESTED})
COMMAND_REJECTED = "ops.command.rejected.v1"
SAME_ID_OTHER_CONTENT = "an event with this id and other content was received before"
log = get_logger("collection")

Check = DeclarationCheck | PaymentCheck


def make_handling(rules: Rules) -> Handling:
    def check(event: Inbound) -> Check | CommandCheck | EnterpriseAnnuityCheck:
        """Every check of one event that needs no stored state, before the transaction."""
        if event.type == DECLARED:
            return check_declaration(event.data, event.envelope.entity_id, rules)
        if event.type == PAID:
            return check_payment(event.data, event.envelope.entity_id)
        if event.type == ENTERPRISE_ANNUITY_DECLARED:
            return check_enterprise_annuity(event.data, event.envelope.entity_id, rules)
        if event.type == ASSESSMENT_REQUESTED:
            return check_assessment_command(event.data, event.envelope.entity_id)
        assert event.type == DEADLINE_CHECK, event.type
        return check_deadline_command(event.data, event.envelope.entity_id)

    async def handle(conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None:
        for conflict in batch.conflicts:
            _answer_conflict(conflict, outbox)
        segment: list[Inbound] = []
        filings: list[Inbound] = []
        for event in batch.events:
            if event.type == ENTERPRISE_ANNUITY_DECLARED:
                await _play(conn, segment, outbox, rules)
                segment = []
                filings.append(event)
                continue
            await _file(conn, filings, outbox)
            filings = []
            if event.type in COMMANDS:
                await _play(conn, segment, outbox, rules)
                segment = []
                await _command(conn, event, outbox, rules)
            else:
                segment.append(event)
        await _play(conn, segment, outbox, rules)
        await _file(conn, filings, outbox)

    return Handling(apply=handle, check=check)


def _record_key(event: Inbound) -> str | None:
    return event.record.key_text()


async def _play(conn: asyncpg.Connection, segment: list[Inbound], outbox: Outbox,
                rules: Rules) -> None:
    """Declarations and payments of one segment, in consumption order."""
    if not segment:
        return
    checks = [cast(Check, event.item) for event in segment]
    book, stored_ids = await _load_book(conn, checks)
    for index, (event, check) in enumerate(zip(segment, checks, strict=True)):
        content_hash, key = event.envelope.payload_hash, _record_key(event)
        if isinstance(check, DeclarationCheck):
            book.declare(check, content_hash, index, key)
        else:
            book.pay(check, content_hash, index, key)
    registrations, before = await _annuity_bases_before(conn, book)
    await store.save_book(conn, book, stored_ids)
    findings = await _check_annuity_bases(conn, registrations, before, rules)
    # In the order of their causes: a batch that ends elsewhere publishes the same sequence.
    _publish(outbox, sorted(book.emits + findings, key=lambda emit: emit.cause), segment)


def _publish(outbox: Outbox, emits: list[Emit], causes: list[Inbound]) -> None:
    for emit in emits:
        outbox.event(topic=TOPIC_DECLARATIONS, key=emit.key, event_type=emit.event_type,
                     data=emit.data, cause=Cause.of(causes[emit.cause]))


BasesBefore = tuple[dict[store.Pair, list[annuity_base.PeriodLine]],
                    dict[store.Pair, dict[str, annuity_base.Finding]]]


async def _annuity_bases_before(
    conn: asyncpg.Connection, book: Book
) -> tuple[list[annuity_base.Registration], BasesBefore]:
    """The segment's annuity and basic-pension registrations that can change a finding, and the
    lines and open findings of their (employer, period) pairs before the segment is saved.

    A basic-pension registration matters only where the employer has annuity declarations for
    the period; finding those pairs is one indexed query, so a segment of enterprise
    declarations costs little more.
    """
    causes = [emit.cause for emit in book.emits if emit.event_type == REGISTERED]
    candidates: list[tuple[annuity_base.Registration, str]] = []
    for declaration, cause in zip(book.registered, causes, strict=True):
        f = declaration.figures
        if f.scheme == annuity_base.ANNUITY or f.scheme in annuity_base.BASIC_SCHEMES:
            candidates.append((annuity_base.Registration(
                f.employer_uscc, f.fee_period, declaration.declaration_id,
                tuple(annuity_base.PeriodLine(declaration.declaration_id, f.scheme,
                                              f.fiscal_entity_code, line.line_no,
                                              line.person_id, line.base_fen)
                      for line in declaration.lines), cause), f.scheme))
    annuity = {(r.employer_uscc, r.fee_period) for r, scheme in candidates
               if scheme == annuity_base.ANNUITY}
    basic = {(r.employer_uscc, r.fee_period) for r, _ in candidates} - annuity
    checked = annuity | await store.pairs_with_annuity(conn, sorted(basic))
    registrations = [r for r, _ in candidates if (r.employer_uscc, r.fee_period) in checked]
    if not registrations:
        return [], ({}, {})
    pairs = sorted(checked)
    return registrations, (await store.load_period_lines(conn, pairs),
                           await store.load_open_findings(conn, pairs))


async def _check_annuity_bases(conn: asyncpg.Connection,
                               registrations: list[annuity_base.Registration],
                               before: BasesBefore, rules: Rules) -> list[Emit]:
    """Compare annuity and basic-pension bases after each registration that can change them."""
    if not registrations:
        return []
    events, comparison = annuity_base.compare_in_order(registrations, *before,
                                                       rules.version_of(0))
    await store.save_findings(conn, comparison)
    keys = {r.cause: r.employer_uscc for r in registrations}
    return [Emit(event_type, keys[cause], data, cause) for cause, event_type, data in events]


async def _file(conn: asyncpg.Connection, filings: list[Inbound], outbox: Outbox) -> None:
    """A run of enterprise annuity filings, in consumption order."""
    if not filings:
        return
    checks = [cast(EnterpriseAnnuityCheck, event.item) for event in filings]
    book = await store.load_enterprise_book(conn, checks)
    for index, (event, check) in enumerate(zip(filings, checks, strict=True)):
        book.file(check, event.envelope.payload_hash, index, _record_key(event))
    await store.save_enterprise_book(conn, book)
    _publish(outbox, book.emits, filings)


async def _load_book(conn: asyncpg.Connection, checks: list[Check]) -> tuple[Book, set[str]]:
    """One query per table for the whole segment; the declaration rows come back locked.

    Returns the book and the ids that already had a row (the others are inserted on save).
    """
    declaration_ids: set[str] = set()
    pairs: set[tuple[str, int]] = set()
    payment_ids: set[str] = set()
    for check in checks:
        if isinstance(check, DeclarationCheck):
            if check.recordable and check.revision is not None:
                declaration_ids.add(check.declaration_id)
                pairs.add((check.declaration_id, check.revision))
        elif check.recordable:
            payment_ids.add(check.payment_id)
            if check.payment is not None:
                declaration_ids.add(check.payment.declaration_id)
    stored = await store.lock_accounts(conn, sorted(declaration_ids))
    waiting_for = [id_ for id_, account in stored.items() if account.waiting_count > 0]
    # A new id has no revision and no payment waiting for it: nothing to look up.
    revisions = await store.load_revisions(conn, [p for p in pairs if p[0] in stored])
    payments, waiting = await store.load_payments(conn, sorted(payment_ids), waiting_for)
    accounts = {id_: stored.get(id_) or Account(id_) for id_ in declaration_ids}
    return Book(accounts, revisions, payments, waiting), set(stored)


def _accepted(event: Inbound, outbox: Outbox) -> CommandCheck | None:
    """A command's check, or None after answering a command that cannot be accepted."""
    command = cast(CommandCheck, event.item)
    if command.as_of is None:
        outbox.event(topic=TOPIC_OPS_COMMANDS, key=SERVICE_NAME, event_type=COMMAND_REJECTED,
                     data={"command_id": command.command_id, "service": SERVICE_NAME,
                           "reasons": command.reasons}, cause=Cause.of(event))
        return None
    return command


async def _command(conn: asyncpg.Connection, event: Inbound, outbox: Outbox,
                   rules: Rules) -> None:
    command = _accepted(event, outbox)
    if command is None:
        return
    if event.type == DEADLINE_CHECK:
        await _deadline_check(conn, command, event, outbox)
    else:
        await _assess(conn, command, event, outbox, rules)


async def _assess(conn: asyncpg.Connection, command: CommandCheck, event: Inbound,
                  outbox: Outbox, rules: Rules) -> None:
    """collection's part of the assessment of every league/city with figures for the period."""
    assert command.as_of is not None
    assert command.period is not None
    for figures in await store.assessment(conn, command.period, command.as_of):
        outbox.event(topic=TOPIC_DECLARATIONS, key=figures.fiscal_entity_code,
                     event_type=COLLECTION_ASSESSED, data=assessment.assessed_data(
                         figures, command_id=command.command_id, period=command.period,
                         as_of=command.as_of, rule_version=rules.version_of(0)),
                     cause=Cause.of(event))


async def _deadline_check(conn: asyncpg.Connection, command: CommandCheck, event: Inbound,
                          outbox: Outbox) -> None:
    """Every registered declaration past due and not paid in full, once per as_of date."""
    cause = Cause.of(event)
    assert command.as_of is not None
    as_of = command.as_of
    rows = await store.report_overdue(conn, as_of, command.command_id)
    for row in rows:
        outbox.event(topic=TOPIC_DECLARATIONS, key=row.employer_uscc, event_type=OVERDUE,
                     data=overdue_data(row, as_of), cause=cause)
    log.info("deadline_check.done", as_of=as_of.isoformat(), overdue_reported=len(rows))


def _answer_conflict(conflict: Inbound, outbox: Outbox) -> None:
    """An event id reused with other content: answered, never applied (the first one stands)."""
    data: dict[str, Any] = conflict.data
    key = _record_key(conflict) or conflict.envelope.entity_id
    cause = Cause.of(conflict)
    if conflict.type in (DECLARED, ENTERPRISE_ANNUITY_DECLARED):
        revision = data.get("revision")
        reasons = [reason("CONFLICTING_DUPLICATE", None, None, SAME_ID_OTHER_CONTENT)]
        rejected = declaration_rejected_data(
            conflict.envelope.entity_id, revision if type(revision) is int else None, reasons)
        answer = (DECLARATION_REJECTED if conflict.type == DECLARED
                  else ENTERPRISE_ANNUITY_REJECTED)
        outbox.event(topic=TOPIC_DECLARATIONS, key=key, event_type=answer, data=rejected,
                     cause=cause)
    elif conflict.type == PAID:
        declaration_id = data.get("declaration_id")
        reasons = [payment_reason("CONFLICTING_DUPLICATE", None, SAME_ID_OTHER_CONTENT)]
        rejected = payment_rejected_data(
            conflict.envelope.entity_id,
            echo_text(declaration_id) if isinstance(declaration_id, str) else None, reasons)
        outbox.event(topic=TOPIC_DECLARATIONS, key=key, event_type=PAYMENT_REJECTED,
                     data=rejected, cause=cause)
    else:
        # ops.command.rejected.v1 has no CONFLICTING_DUPLICATE code: the first command stands.
        log.warning("command.conflict_ignored", event_type=conflict.type,
                    command_id=conflict.envelope.entity_id)
