"""The batch handler: load what the batch's items need, let the domain decide, save, publish.

One batch is one transaction (shared.messaging); every item was read by `validation.check`
before it opened. Items are handled by stage, each stage with a few set-based reads and writes:
first the collection events (so a deadline check in the same batch sees their credits), then the
transfer notices, then the personnel systems' events, then the operator commands in their order.
Records of different topics have no order between them anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import asyncpg

from services.occupational_annuity import SERVICE_NAME, domain, events, store, validation
from services.occupational_annuity.model import (
    CommandInvalid,
    Credit,
    DeadlineCheck,
    Entry,
    FundingCommand,
    Ignored,
    Item,
    NoticeDecision,
    NoticeOutcome,
    NotionalInterestRequest,
    NotionalPosting,
    NotionalRefusal,
    Outbound,
    PaymentSettled,
    PersonnelDecision,
    PersonnelEvent,
    Rate,
    Registration,
    Rules,
    Unreadable,
)
from shared.contracts import annuity as contract
from shared.contracts.assessment import AssessmentCommand
from shared.logging import get_logger
from shared.messaging import Batch, Cause, Handling, Inbound, Outbox

log = get_logger("occupational_annuity")


def make_handling(rules: Rules) -> Handling:
    def check(event: Inbound) -> Item:
        envelope = validation.Envelope(event.envelope.entity_id, event.record.key_text(),
                                       event.envelope.payload_hash)
        return validation.check(event.type, event.data, envelope)

    async def handle(conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None:
        await store.lock_ledger(conn)
        stages = _Stages.of(batch.events)
        await _record_ignored(conn, stages.ignored)
        await _collection(conn, stages.collection, outbox, rules)
        await _notices(conn, stages.notices, outbox)
        await _personnel(conn, stages.personnel, outbox, rules)
        for event in stages.commands:
            await _command(conn, event, outbox, rules)
        _answer_conflicts(batch.conflicts, outbox)

    return Handling(apply=handle, check=check)


def publish(outbox: Outbox, cause: Cause, outbound: Iterable[Outbound]) -> None:
    for event in outbound:
        outbox.event(topic=event.topic, key=event.key, event_type=event.event_type,
                     data=event.data, cause=cause)


def by_entity_id(kind: str, entity_id: str, trigger: Inbound) -> Cause:
    """The cause of a credit (once per declaration) or an uncredited report (once per payment):
    its id derives from the declaration or payment id, not from the collection event that came
    last. Which one that is depends on how collection interleaved the declarations and payments
    topics (a payment that waited for its declaration is settled by the declaration's event), so
    a replay of the same inbound events would otherwise give these events other ids. The
    correlation is still the triggering event's (CONTRACTS.md, "Envelope")."""
    return Cause(f"/{SERVICE_NAME}/{kind}", entity_id, trigger.envelope.correlation_id)


@dataclass(slots=True)
class _Stages:
    ignored: list[Ignored] = field(default_factory=list)
    collection: list[Inbound] = field(default_factory=list)
    notices: list[tuple[Inbound, NoticeOutcome]] = field(default_factory=list)
    personnel: list[tuple[Inbound, PersonnelEvent]] = field(default_factory=list)
    commands: list[Inbound] = field(default_factory=list)

    @staticmethod
    def of(batch_events: Iterable[Inbound]) -> _Stages:
        stages = _Stages()
        for event in batch_events:
            item = cast(Item, event.item)
            if isinstance(item, Unreadable):
                stages.ignored.append(Ignored(event.envelope.source, event.envelope.id, item))
            elif isinstance(item, Registration | PaymentSettled):
                stages.collection.append(event)
            elif isinstance(item, NoticeOutcome):
                stages.notices.append((event, item))
            elif isinstance(item, PersonnelEvent):
                stages.personnel.append((event, item))
            elif item is not None:
                stages.commands.append(event)
        return stages


async def _record_ignored(conn: asyncpg.Connection, ignored: Sequence[Ignored]) -> None:
    """Events this service cannot read as its reader's view describes: kept and logged."""
    for event in ignored:
        reasons = event.unreadable.reasons
        log.warning("event.ignored", event_type=event.unreadable.event_type,
                    event_id=event.event_id, codes=sorted({r["code"] for r in reasons}),
                    fields=sorted({str(r["field"]) for r in reasons}))
    await store.record_ignored(conn, ignored)


# ---- collection.declarations -------------------------------------------------------------------


@dataclass(slots=True)
class _Collection:
    registrations: dict[str, Registration] = field(default_factory=dict)
    payments: list[PaymentSettled] = field(default_factory=list)
    # The later of two causes gives an event its correlation (CONTRACTS.md, "Envelope").
    trigger: dict[str, Inbound] = field(default_factory=dict)
    payment_cause: dict[str, Inbound] = field(default_factory=dict)
    registration_cause: dict[tuple[str, int], Inbound] = field(default_factory=dict)
    # Where each event was in the batch: what it causes is published in this order, so the
    # ledger's order does not depend on where a batch happened to end.
    position: dict[int, int] = field(default_factory=dict)

    def at(self, event: Inbound) -> int:
        return self.position[id(event)]

    @staticmethod
    def of(collection_events: Iterable[Inbound]) -> _Collection:
        parsed = _Collection()
        for index, event in enumerate(collection_events):
            parsed.position[id(event)] = index
            item = cast(Registration | PaymentSettled, event.item)
            if isinstance(item, Registration):
                parsed.registration_cause[(item.declaration_id, item.revision)] = event
                current = parsed.registrations.get(item.declaration_id)
                if current is None or current.revision < item.revision:
                    parsed.registrations[item.declaration_id] = item
            else:
                parsed.payments.append(item)
                parsed.payment_cause[item.payment_id] = event
            parsed.trigger.pop(item.declaration_id, None)
            parsed.trigger[item.declaration_id] = event
        return parsed


async def _collection(
    conn: asyncpg.Connection, collection_events: Sequence[Inbound], outbox: Outbox, rules: Rules
) -> None:
    if not collection_events:
        return
    parsed = _Collection.of(collection_events)
    touched = await _register(conn, parsed.registrations)
    if parsed.payments:
        new = await store.insert_payments(conn, parsed.payments)
        touched |= {p.declaration_id for p in parsed.payments if p.payment_id in new}
    declaration_ids = [d for d in parsed.trigger if d in touched]  # order of their last event
    if declaration_ids:
        await _credit(conn, declaration_ids, parsed, outbox, rules)


async def _register(conn: asyncpg.Connection, registrations: dict[str, Registration]) -> set[str]:
    """Apply new declarations and revisions; returns the annuity ones that changed."""
    if not registrations:
        return set()
    changed = await store.upsert_declarations(conn, list(registrations.values()))
    annuity = [r.declaration for r in registrations.values()
               if r.declaration is not None and r.declaration_id in changed]
    annuity_ids = {d.declaration_id for d in annuity}
    await store.replace_lines(conn, sorted(changed), annuity)
    others = sorted(changed - annuity_ids)
    if others:
        await store.drop_waiting_payments(conn, others)
    return annuity_ids


@dataclass(frozen=True, slots=True)
class _Emit:
    """An event to publish, with the position of its cause in the batch."""

    position: int
    cause: Cause
    outbound: list[Outbound]


async def _credit(
    conn: asyncpg.Connection, declaration_ids: list[str], parsed: _Collection, outbox: Outbox,
    rules: Rules,
) -> None:
    """Credit what is now both registered and paid; report each payment that left it short.

    The events go out in the order of their causes in the batch: a batch that ends elsewhere
    (another run, a replay) publishes the same events in the same order."""
    declarations = await store.lock_annuity_declarations(conn, declaration_ids)
    payments = await store.load_payments(conn, declarations)
    credits: list[Credit] = []
    uncredited: list[tuple[str, str, str]] = []  # (entity, declaration, payment)
    for declaration_id in (d for d in declaration_ids if d in declarations):
        declaration, credited = declarations[declaration_id]
        decision = domain.decide_credit(declaration, payments.get(declaration_id, []),
                                        credited=credited)
        uncredited += [(declaration.fiscal_entity_code, declaration_id, payment_id)
                       for payment_id in decision.uncredited_payment_ids]
        if decision.credit is not None:
            credits.append(decision.credit)
    await store.mark_uncredited_reported(conn, [payment_id for _, _, payment_id in uncredited])
    emits: list[_Emit] = []
    for entity, declaration_id, payment_id in uncredited:
        # A payment that waited for its declaration is reported when the declaration arrives.
        trigger = parsed.payment_cause.get(payment_id, parsed.trigger[declaration_id])
        emits.append(_Emit(parsed.at(trigger), by_entity_id("payment", payment_id, trigger), [
            events.on_ledger(entity, contract.CONTRIBUTION_UNCREDITED,
                             events.uncredited(declaration_id, payment_id))]))
    if credits:
        emits += await _book(conn, credits, parsed, rules)
    for emit in sorted(emits, key=lambda e: e.position):  # stable: a cause's events in order
        publish(outbox, emit.cause, emit.outbound)


def _credit_trigger(credit: Credit, parsed: _Collection) -> Inbound:
    """The later of a credit's two causes in this batch: the registration of the credited
    revision and the payment that paid it (CONTRACTS.md: the later one's correlation), not
    whatever came last about the declaration, which depends on where the batch ends."""
    declaration = credit.declaration
    causes = [cause for cause in (
        parsed.registration_cause.get((declaration.declaration_id, declaration.revision)),
        parsed.payment_cause.get(credit.payment_id)) if cause is not None]
    return max(causes, key=parsed.at, default=parsed.trigger[declaration.declaration_id])


async def _book(
    conn: asyncpg.Connection, credits: list[Credit], parsed: _Collection, rules: Rules,
) -> list[_Emit]:
    states = {c.declaration.declaration_id: domain.topup_state(c, rules) for c in credits}
    claimed = await store.insert_credits(conn, credits, states)
    booked = [c for c in credits if c.declaration.declaration_id in claimed]
    await store.insert_entries(conn, [e for c in booked for e in domain.credit_entries(c)])
    await store.add_collected(conn, domain.collected_by_period(booked))
    adjusted = await _late_credit_interest(conn, booked, rules)
    emits = []
    for credit in booked:
        declaration = credit.declaration
        trigger = _credit_trigger(credit, parsed)
        emits.append(_Emit(
            parsed.at(trigger), by_entity_id("declaration", declaration.declaration_id, trigger),
            [events.on_ledger(declaration.fiscal_entity_code, contract.CONTRIBUTION_CREDITED,
                              events.credited(credit)),
             *adjusted.get(declaration.declaration_id, [])]))
    return emits


async def _late_credit_interest(
    conn: asyncpg.Connection, booked: list[Credit], rules: Rules
) -> dict[str, list[Outbound]]:
    """Notional credits of fee periods before a posted year earn its interest now (an
    adjustment, `annuity.notional_interest.adjusted.v1`), by declaration."""
    notional = [c for c in booked if c.total("unit_notional") > 0]
    posted = await store.posted_years(conn) if notional else {}
    late = [c for c in notional if max(posted, default=0) > int(c.declaration.fee_period[:4])]
    if not late:
        return {}
    ledgers = await store.member_ledgers(conn, {
        (m.person_id, c.declaration.fiscal_entity_code)
        for c in late for m in c.members if m.unit_notional_fen > 0})
    entries: list[Entry] = []
    adjusted: dict[str, list[Outbound]] = {}
    for credit in late:
        declaration_id = credit.declaration.declaration_id
        missed = domain.late_credit_interest(credit, ledgers, posted)
        entries += domain.adjustment_entries(missed, "late_credit", declaration_id)
        adjusted[declaration_id] = events.notional_adjusted(
            missed, posted, "late_credit", declaration_id, rules.rule_version)
    await store.insert_entries(conn, entries)
    return adjusted


# ---- transfer.notices --------------------------------------------------------------------------


async def _notices(
    conn: asyncpg.Connection, notices: Sequence[tuple[Inbound, NoticeOutcome]], outbox: Outbox
) -> None:
    if not notices:
        return
    requests = await store.lock_requests(conn, {i for _, o in notices for i in o.covers})
    ours = [(event, outcome) for event, outcome in notices if requests.covered(outcome)]
    claimed = await store.claim_notices(conn, [outcome for _, outcome in ours])
    decided: list[tuple[Inbound, NoticeDecision]] = []
    for event, outcome in ours:
        if outcome.notice_id not in claimed:
            continue
        claimed.discard(outcome.notice_id)  # a notice twice in the batch counts once
        _log_notice(outcome, requests.covered(outcome))
        decision = domain.apply_notice(requests, outcome)
        if decision.short_fen:
            # Normal after a partly settled notice failed: its replacement brings the rest.
            log.info("request.short", notice_id=outcome.notice_id, short_fen=decision.short_fen)
        decided.append((event, decision))
    await store.save_transfer_requests(conn, list(requests.changed.values()))
    decisions = [d for _, d in decided]
    await store.complete_remittances(conn, [c for d in decisions for c in d.completions])
    allocations = [a for d in decisions for a in d.allocations]
    fundings = [f for d in decisions for f in d.fundings]
    backcredits = [b for d in decisions for b in d.backcredits]
    entries = [e for done in allocations for e in done.entries]
    entries += [e for done in fundings for e in done.entries]
    await store.insert_entries(conn, entries + [e for b in backcredits for e in b.entries])
    await store.mark_allocated(conn, allocations)
    await store.complete_fundings(conn, fundings, backcredits)
    for event, decision in decided:
        publish(outbox, Cause.of(event), events.notice_effects(decision))


def _log_notice(outcome: NoticeOutcome, request_ids: list[str]) -> None:
    if not domain.notice_matches(outcome.notice_id, outcome.attempt, request_ids):
        # Finance's settlement is a fact either way; the mismatch is worth a look.
        log.warning("notice.unexpected_id", notice_id=outcome.notice_id, attempt=outcome.attempt)
    if outcome.result == "failed":
        # A replaced notice is followed by its replacement; an exhausted one leaves the request
        # open, so a remittance shows up as overdue and a top-up stays unallocated.
        log.warning("notice.failed", notice_id=outcome.notice_id, purpose=outcome.purpose,
                    reason=(outcome.reason or "")[:200], replaced_by=outcome.replaced_by)


# ---- hr.annuity.events ------------------------------------------------------------------------


async def _personnel(
    conn: asyncpg.Connection, personnel: Sequence[tuple[Inbound, PersonnelEvent]],
    outbox: Outbox, rules: Rules,
) -> None:
    """Retirements fund the member's notional balance, back-credits ask for their money."""
    if not personnel:
        return
    book = await store.load_personnel(conn, [event for _, event in personnel])
    decided = [(inbound, domain.apply_personnel(book, event, rules))
               for inbound, event in personnel]
    await store.save_personnel(conn, book)
    for inbound, decision in decided:
        if decision.reasons:
            log.info("personnel_event.rejected", kind=decision.event.kind,
                     event_id=decision.event.event_id,
                     codes=sorted({r["code"] for r in decision.reasons}))
        publish(outbox, Cause.of(inbound), events.personnel_effects(decision))


# ---- ops.commands ------------------------------------------------------------------------------


async def _command(conn: asyncpg.Connection, event: Inbound, outbox: Outbox,
                   rules: Rules) -> None:
    command = event.item
    cause = Cause.of(event)
    if isinstance(command, CommandInvalid):
        publish(outbox, cause, [events.command_rejected(command)])
    elif isinstance(command, DeadlineCheck):
        publish(outbox, cause, await _deadline_check(conn, command, rules))
    elif isinstance(command, NotionalInterestRequest):
        publish(outbox, cause, await _notional_interest(conn, command, rules))
    elif isinstance(command, FundingCommand):
        publish(outbox, cause, await _fund_entity(conn, command, rules))
    elif isinstance(command, AssessmentCommand):
        publish(outbox, cause, [
            events.assessed(figures, command, rules.rule_version)
            for figures in await store.assessment(conn, command.period, command.as_of)])


async def _deadline_check(
    conn: asyncpg.Connection, check: DeadlineCheck, rules: Rules
) -> list[Outbound]:
    """Request what is due upward, assess pre-investment interest, report what is overdue."""
    plans = domain.plan_remittances(await store.lock_unrequested_periods(conn), check.as_of,
                                    rules)
    if plans:
        await store.insert_remittances(conn, plans)
        await store.insert_transfer_requests(conn, [domain.remittance_request(p) for p in plans])
    out = [e for plan in plans for e in events.remittance_requests(plan, rules.rule_version)]
    pending = await store.lock_pending_topup_credits(conn)
    if pending:
        principals = await store.principals(conn, [d for ids in pending.values() for d in ids])
        sequences = await store.lock_topup_counts(conn, list(pending))
        decided = domain.assess_topups(pending, principals, sequences, as_of=check.as_of,
                                       rules=rules)
        await store.save_topups(conn, decided, check.as_of)
        await store.insert_transfer_requests(conn, [
            domain.topup_request(a) for a, _ in decided.assessed if a.total_fen > 0])
        out += [e for a, _ in decided.assessed for e in events.topup_assessment(a)]
        if decided.blocked:
            log.warning("topup.rate_missing", periods=len(decided.blocked),
                        years=sorted({y for b in decided.blocked for y in b.missing_years}))
    due = domain.past_due(await store.open_remittances(conn), check.as_of)
    claimed = await store.claim_overdue_reports(conn, [r.remittance_id for r in due],
                                                check.as_of) if due else set()
    return out + [events.on_ledger(r.fiscal_entity_code, contract.REMITTANCE_OVERDUE,
                                   events.remittance_overdue(r, check.as_of))
                  for r in due if r.remittance_id in claimed]


async def _notional_interest(
    conn: asyncpg.Connection, request: NotionalInterestRequest, rules: Rules
) -> list[Outbound]:
    """Each member's notional balance of earlier periods x the year's rate, once per year and
    in order of years; members whose later posted years this changes get their adjustment."""
    posted = await store.posted_years(conn)
    refusal = await _notional_refusal(conn, request, posted, rules)
    if refusal is not None:
        log.warning("notional_interest.refused", year=refusal.year, reason=refusal.reason,
                    unposted_year=refusal.unposted_year)
        return [events.on_ledger(domain.REGION_CODE, contract.NOTIONAL_INTEREST_REFUSED,
                                 events.notional_refused(refusal.command_id, refusal.year,
                                                         refusal.reason, refusal.unposted_year))]
    rate = rules.notional_rates[request.year]
    balances = await store.notional_balances(conn, domain.notional_cutoff(request.year),
                                             request.year)
    postings = domain.post_notional(balances, rate)
    claimed = await store.claim_notional_postings(conn, postings, request.year, rate.text,
                                                  request.command_id)
    posted_now = [p for p in postings if (p.person_id, p.fiscal_entity_code) in claimed]
    await store.insert_entries(conn, domain.notional_entries(posted_now, request.year))
    await store.mark_year_posted(conn, request.year, rate.text, request.command_id)
    out = [events.on_ledger(entity.fiscal_entity_code, contract.NOTIONAL_INTEREST_POSTED,
                            events.notional_posted(entity, request.year, rate,
                                                   request.command_id, rules.rule_version))
           for entity in domain.by_entity(posted_now)]
    return out + await _late_posting(conn, request, posted_now, posted, rules)


async def _notional_refusal(
    conn: asyncpg.Connection, request: NotionalInterestRequest, posted: Mapping[int, Rate],
    rules: Rules,
) -> NotionalRefusal | None:
    if request.year not in rules.notional_rates:
        return NotionalRefusal(request.command_id, request.year, "RATE_NOT_CONFIGURED")
    unposted = domain.unposted_year(request.year, posted, await store.earliest_notional_on(conn))
    if unposted is not None:
        return NotionalRefusal(request.command_id, request.year, "PREVIOUS_YEAR_NOT_POSTED",
                               unposted)
    return None


async def _late_posting(
    conn: asyncpg.Connection, request: NotionalInterestRequest,
    posted_now: Sequence[NotionalPosting], posted: Mapping[int, Rate], rules: Rules,
) -> list[Outbound]:
    """A year posted after later ones: its interest belongs in their balances too."""
    later = {year: rate for year, rate in posted.items() if year > request.year}
    if not later or not posted_now:
        return []
    ledgers = await store.member_ledgers(conn, [(p.person_id, p.fiscal_entity_code)
                                                for p in posted_now])
    missed = [a for ledger in ledgers.values()
              for a in domain.missed_interest(ledger, later, request.year + 1)]
    await store.insert_entries(conn, domain.adjustment_entries(missed, "late_posting",
                                                               request.command_id))
    return events.notional_adjusted(missed, posted, "late_posting", request.command_id,
                                    rules.rule_version)


async def _fund_entity(
    conn: asyncpg.Connection, command: FundingCommand, rules: Rules
) -> list[Outbound]:
    """做实 by command: every member of the entity not funded yet, in one funding."""
    members = await store.entity_members(conn, command.fiscal_entity_code)
    funding = domain.fund_members(command.fiscal_entity_code, "command", command.command_id,
                                  as_of=command.as_of, members=members, rules=rules)
    if funding is None:
        return []  # nobody to fund: nothing is emitted
    await store.save_fundings(conn, [funding])
    return events.funding_requests(funding)


def _answer_conflicts(conflicts: Sequence[Inbound], outbox: Outbox) -> None:
    """A reused event id with other content: commands are answered, the rest stays recorded."""
    for conflict in conflicts:
        log.warning("event.conflict", event_type=conflict.type, event_id=conflict.envelope.id,
                    source=conflict.envelope.source)
        if conflict.type in validation.PERSONNEL_TYPES:
            _answer_personnel_conflict(conflict, outbox)
        elif conflict.type in validation.COMMAND_TYPES:
            publish(outbox, Cause.of(conflict), [events.command_rejected(CommandInvalid(
                conflict.envelope.entity_id, [{
                    "code": "CONFLICTING_DUPLICATE", "field": None,
                    "message": "this command id was used before with other content",
                }]))])


def _answer_personnel_conflict(conflict: Inbound, outbox: Outbox) -> None:
    """The same CloudEvent id with other content: rejected, whatever the new content says."""
    item = conflict.item
    if not isinstance(item, PersonnelEvent):
        return  # unreadable as a personnel event: recorded in the inbox conflict table only
    reason = {"code": "CONFLICTING_DUPLICATE", "field": None,
              "message": "this event id was used before with other content"}
    decision = PersonnelDecision(item, reasons=(reason,))
    publish(outbox, Cause.of(conflict), events.personnel_effects(decision))
