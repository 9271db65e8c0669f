"""The invariants of TESTING.md (I1-I5, I7-I9) on a namespace's topics, databases and logs.

`check_namespace` reads every record of the namespace's topics, the three service schemas and the
services' log files, and returns a `Verdict`: how many things each check looked at, and every
problem found. It never stops at the first problem, so one run tells everything that broke. I6
(replay) is tests/faults/replay.py; I8's readiness bound is the harness's wait.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg

from shared.cli.common import CliEnv
from shared.cli.report import build_report
from shared.cli.status import SERVICE_INPUTS
from shared.contracts import annuity, collection, finance, tax, transfer
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.topology import DEAD_LETTER_REASONS, SERVICES, TOPICS
from shared.contracts.wire import NotJsonError, loads_strict
from shared.ids import RESIDENT_ID_PATTERN, notice_id_for_appropriation, notice_id_for_request
from shared.messaging import Record
from shared.money import parse_yuan
from tests.support import committed_lag, connect_db

SERVICE_NAMES: Final = tuple(SERVICES)
TIME_FIELD: Final = re.compile(rb'"time":"[^"]*"')


@dataclass(slots=True)
class Verdict:
    checked: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def expect(self, check: str, ok: bool, problem: str) -> None:
        self.checked[check] += 1
        if not ok:
            self.problems.append(f"{check}: {problem}")

    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.checked.items()))


@dataclass(frozen=True, slots=True)
class Event:
    """One readable record of a topic: its envelope and where it was."""

    record: Record
    envelope: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.envelope.get("id"))

    @property
    def type(self) -> str:
        return str(self.envelope.get("type"))

    @property
    def source(self) -> str:
        return str(self.envelope.get("source"))

    @property
    def data(self) -> dict[str, Any]:
        data = self.envelope.get("data")
        return data if isinstance(data, dict) else {}


def readable(records: Iterable[Record]) -> tuple[list[Event], list[Record]]:
    """(events, unreadable records) in the order given; unreadable as CONTRACTS.md says (not a
    JSON object with a `data` object, an unknown type, no entity id): a dead letter's record."""
    events: list[Event] = []
    unreadable: list[Record] = []
    for record in records:
        try:
            envelope = loads_strict(record.value or b"")
        except NotJsonError:
            unreadable.append(record)
            continue
        data = envelope.get("data") if isinstance(envelope, dict) else None
        entity_field = ENTITY_FIELDS.get(str(envelope.get("type"))) if isinstance(
            envelope, dict) else None
        if isinstance(data, dict) and entity_field and data.get(entity_field) is not None:
            events.append(Event(record, envelope))
        else:
            unreadable.append(record)
    return events, unreadable


# What identifies the business fact each outbound type states: at most one event id may state it
# (I2, I4: a second id for the same fact would be a second effect).
FACT_KEYS: Final[dict[str, tuple[str, ...]]] = {
    collection.REGISTERED: ("declaration_id", "revision"),
    collection.DECLARATION_REJECTED: ("declaration_id", "revision"),
    collection.SETTLED: ("payment_id",),
    collection.PAYMENT_REJECTED: ("payment_id",),
    collection.OVERDUE: ("declaration_id", "as_of"),
    transfer.NOTICE_ISSUED: ("notice_id",),
    transfer.NOTICE_SETTLED: ("notice_id",),
    transfer.NOTICE_FAILED: ("notice_id",),
    transfer.REQUEST_REJECTED: ("request_id",),
    transfer.SETTLEMENT_REJECTED: ("settlement_id",),
    transfer.APPROPRIATION_REJECTED: ("appropriation_id",),
    transfer.OBLIGATION_FULFILLED: ("fiscal_entity_code", "fund", "period"),
    transfer.OBLIGATION_OVERPAID: ("fiscal_entity_code", "fund", "period"),
    transfer.OBLIGATION_SHORTFALL: ("fiscal_entity_code", "fund", "period", "as_of"),
    transfer.REQUESTED: ("request_id",),
    annuity.CONTRIBUTION_CREDITED: ("declaration_id",),
    annuity.REMITTANCE_REQUESTED: ("remittance_id",),
    annuity.REMITTANCE_COMPLETED: ("remittance_id",),
    annuity.REMITTANCE_OVERDUE: ("remittance_id", "as_of"),
    annuity.INTEREST_TOPUP_ASSESSED: ("assessment_id",),
    annuity.INTEREST_TOPUP_ALLOCATED: ("assessment_id",),
}


@dataclass(slots=True)
class Namespace:
    """What the checker reads once: every topic's records by base name, and the events."""

    name: str
    records: dict[str, list[Record]]
    events: dict[str, list[Event]] = field(default_factory=dict)
    unreadable: dict[str, list[Record]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for topic, records in self.records.items():
            self.events[topic], self.unreadable[topic] = readable(records)

    def of_type(self, *types: str) -> list[Event]:
        return [e for events in self.events.values() for e in events if e.type in types]

    def answers(self, event_type: str, *fields: str) -> dict[tuple[Any, ...], set[str]]:
        """Distinct event ids of `event_type` per value of `fields` in its data."""
        found: dict[tuple[Any, ...], set[str]] = defaultdict(set)
        for event in self.of_type(event_type):
            found[tuple(event.data.get(f) for f in fields)].add(event.id)
        return found


async def check_namespace(namespace: Namespace, *, env: CliEnv, logs: Sequence[Path],
                          period: str, identity_numbers: Iterable[str] = (),
                          metrics: dict[str, str] | None = None) -> Verdict:
    verdict = Verdict()
    conns = {s: await connect_db(f"{s}_{namespace.name}") for s in SERVICE_NAMES}
    try:
        await _inboxes(namespace, conns, verdict)
        _answers(namespace, verdict)
        await _settlements(namespace, conns["fund_transfer"], verdict)
        _dead_letters(namespace, verdict)
        _facts_once(namespace, verdict)
        _notices_once(namespace, verdict)
        _duplicates_identical(namespace, verdict)
        await _outboxes(namespace, conns, verdict)
        await _fund_transfer_ledger(conns["fund_transfer"], verdict)
        await _annuity_balances(namespace, conns["occupational_annuity"], verdict)
        _splits(namespace, verdict)
    finally:
        for conn in conns.values():
            await conn.close()
    report = await build_report(env, period, timeout_s=120)
    for section in report.sections:
        verdict.expect("report_section_reconciles", section.reconciles,
                       f"{section.key}: {section.problems[:3]}")
    await _lag(namespace, env, verdict)
    people = set(identity_numbers)
    _logs(logs, people, verdict)
    _metric_labels(metrics or {}, people, verdict)
    return verdict


def _metric_labels(metrics: dict[str, str], people: set[str], verdict: Verdict) -> None:
    for service, text in metrics.items():
        for line in text.splitlines():
            # Labels only: a sample value such as 0.029235402998892823 has 18 digits in a row.
            labels = line.partition("{")[2].rpartition("}")[0]
            verdict.expect("I9_metric_labels", not _carries_identity(labels, people),
                           f"{service} /metrics: {line[:80]}...")


# ---- I1: every inbound event handled once, and answered -------------------------------------


async def _inboxes(namespace: Namespace, conns: dict[str, asyncpg.Connection],
                   verdict: Verdict) -> None:
    """Each readable event of a type a service handles, on a topic it consumes, has its inbox
    row in that service's schema (handled, whatever the answer)."""
    for service in SERVICE_NAMES:
        handled = SERVICES[service].handled_types
        rows = await conns[service].fetch("SELECT source, event_id FROM inbox")
        inbox = {(row["source"], row["event_id"]) for row in rows}
        for topic in SERVICE_INPUTS[service]:
            for event in {(e.source, e.id): e for e in namespace.events[topic]
                          if e.type in handled}.values():
                verdict.expect("I1_inbox_row", (event.source, event.id) in inbox,
                               f"{service} never handled {event.type} {event.id} of {topic}")


def _same(fact: str) -> str:
    return fact


def _first_notice_of_appropriation(appropriation_id: str) -> str:
    return notice_id_for_appropriation(appropriation_id, 0)


def _first_notice_of_request(request_id: str) -> str:
    return notice_id_for_request(request_id, 0)


@dataclass(frozen=True, slots=True)
class Answered:
    """An inbound type each of whose facts gets exactly one answer: one event of the `answers`,
    each (type, field of the answer, the value that field has for the fact)."""

    inbound_type: str
    fact_field: str
    answers: tuple[tuple[str, str, Callable[[str], str]], ...]


ANSWERED: Final = (
    Answered(tax.PAID, "payment_id", ((collection.SETTLED, "payment_id", _same),
                                      (collection.PAYMENT_REJECTED, "payment_id", _same))),
    Answered(finance.APPROPRIATED, "appropriation_id",
             ((transfer.NOTICE_ISSUED, "notice_id", _first_notice_of_appropriation),
              (transfer.APPROPRIATION_REJECTED, "appropriation_id", _same))),
    Answered(transfer.REQUESTED, "request_id",
             ((transfer.NOTICE_ISSUED, "notice_id", _first_notice_of_request),
              (transfer.REQUEST_REJECTED, "request_id", _same))),
)


def _answers(namespace: Namespace, verdict: Verdict) -> None:
    """Inbound facts with a direct answer have exactly one (CONTRACTS.md)."""
    registered = namespace.answers(collection.REGISTERED, "declaration_id", "revision")
    rejected = namespace.answers(collection.DECLARATION_REJECTED, "declaration_id", "revision")
    for event in _distinct(namespace.of_type(tax.DECLARED)):
        key = (event.data.get("declaration_id"), event.data.get("revision"))
        ids = registered.get(key, set()) | rejected.get(key, set())
        verdict.expect("I1_declaration_answered_once", len(ids) == 1,
                       f"declaration {key} answered by {len(ids)} event ids")
    for answered in ANSWERED:
        found = [(namespace.answers(answer_type, field), value_of)
                 for answer_type, field, value_of in answered.answers]
        for event in _distinct(namespace.of_type(answered.inbound_type)):
            fact = str(event.data.get(answered.fact_field))
            ids = set()
            for answers, value_of in found:
                ids |= answers.get((value_of(fact),), set())
            verdict.expect(f"I1_{answered.fact_field}_answered_once", len(ids) == 1,
                           f"{answered.inbound_type} {fact} answered by {len(ids)} event ids")


def _distinct(events: Iterable[Event]) -> list[Event]:
    return list({(e.source, e.id): e for e in events}.values())


async def _settlements(namespace: Namespace, conn: asyncpg.Connection,
                       verdict: Verdict) -> None:
    """A settlement or failure is answered by a rejection, or applied to its notice once."""
    refused = namespace.answers(transfer.SETTLEMENT_REJECTED, "settlement_id")
    rows = {row["settlement_id"]: row for row in await conn.fetch(
        "SELECT settlement_id, applied FROM settlement")}
    for event in _distinct(namespace.of_type(finance.SETTLED, finance.FAILED)):
        settlement_id = str(event.data.get("settlement_id"))
        row = rows.get(settlement_id)
        ids = refused.get((settlement_id,), set())
        verdict.expect("I1_settlement_applied_or_rejected",
                       (len(ids) == 1 and row is None) or (not ids and row is not None
                                                           and row["applied"]),
                       f"settlement {settlement_id}: {len(ids)} rejections, row {row}")


def _dead_letters(namespace: Namespace, verdict: Verdict) -> None:
    """I1, I5: each unreadable record of a consumed topic is one dead letter of each service that
    consumes it, with its original key, value and headers and where it came from."""
    for service in SERVICE_NAMES:
        letters = namespace.records[f"{service}.dlq"]
        by_origin: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
        for letter in letters:
            headers = dict(letter.headers)
            by_origin[(headers.get("x-original-topic", b"").decode(),
                       headers.get("x-original-partition", b"").decode(),
                       headers.get("x-original-offset", b"").decode())].append(letter)
            verdict.expect("I5_dead_letter_reason",
                           headers.get("x-dlq-reason", b"").decode() in DEAD_LETTER_REASONS
                           and bool(headers.get("x-consumer-group")),
                           f"{service}.dlq {letter.partition}:{letter.offset} lacks a reason")
        for topic in SERVICE_INPUTS[service]:
            for record in namespace.unreadable[topic]:
                origin = (f"{namespace.name}.{topic}", str(record.partition), str(record.offset))
                found = by_origin.get(origin, [])
                verdict.expect("I1_unreadable_dead_lettered", len(found) >= 1,
                               f"{service} did not dead-letter {origin}")
                for letter in found:
                    kept = ([h for h in letter.headers if not h[0].startswith("x-dlq")
                             and not h[0].startswith("x-original") and h[0] not in (
                                 "x-consumer-group", "x-failed-at")] == list(record.headers))
                    verdict.expect("I5_dead_letter_keeps_the_record",
                                   letter.key == record.key and letter.value == record.value
                                   and kept, f"{service}.dlq changed the record of {origin}")


def _facts_once(namespace: Namespace, verdict: Verdict) -> None:
    """I2, I4: each business fact is stated by one event id however often it is published."""
    for event_type, fields in FACT_KEYS.items():
        for key, ids in namespace.answers(event_type, *fields).items():
            verdict.expect("I2_fact_stated_once", len(ids) == 1,
                           f"{event_type} {key} stated by {len(ids)} event ids")


def _notices_once(namespace: Namespace, verdict: Verdict) -> None:
    """I2: one notice per obligation or request and attempt; a later attempt only replaces a
    notice that failed and named it as its replacement."""
    replaced_by = {e.data.get("notice_id"): e.data.get("replaced_by")
                   for e in namespace.of_type(transfer.NOTICE_FAILED)}
    attempts: dict[tuple[tuple[str, ...], Any], set[str]] = defaultdict(set)
    for event in _distinct(namespace.of_type(transfer.NOTICE_ISSUED)):
        data = event.data
        attempts[(tuple(data.get("covers", ())), data.get("attempt"))].add(data["notice_id"])
        if data.get("attempt"):
            verdict.expect("I2_replacement_replaces_a_failed_notice",
                           replaced_by.get(data.get("replaces")) == data["notice_id"],
                           f"notice {data['notice_id']} replaces {data.get('replaces')}, "
                           "which did not fail into it")
    for (covers, attempt), notices in attempts.items():
        verdict.expect("I2_one_notice_per_attempt", len(notices) == 1,
                       f"{covers} attempt {attempt} has notices {sorted(notices)}")


def _duplicates_identical(namespace: Namespace, verdict: Verdict) -> None:
    """I4: a record published twice carries the same event id, key and content (the envelope's
    `time` aside: a batch handled again after a crash stamps its own)."""
    for topic in (t.name for t in TOPICS if not t.partner_producers):
        first: dict[str, Event] = {}
        for event in namespace.events[topic]:
            seen = first.setdefault(event.id, event)
            if seen is event:
                continue
            same = (seen.record.key == event.record.key and TIME_FIELD.sub(
                b"", seen.record.value or b"") == TIME_FIELD.sub(b"", event.record.value or b""))
            verdict.expect("I4_duplicate_identical", same,
                           f"{topic}: event {event.id} published with other content")
        verdict.checked["I4_outbound_events"] += len(first)


async def _outboxes(namespace: Namespace, conns: dict[str, asyncpg.Connection],
                    verdict: Verdict) -> None:
    """I4: every outbox row is published, and every event of it is on its topic."""
    on_topics = {e.id for events in namespace.events.values() for e in events}
    for service, conn in conns.items():
        rows = await conn.fetch("SELECT event_id, published_at IS NOT NULL AS published,"
                                " set_aside_at IS NOT NULL AS set_aside FROM outbox")
        for row in rows:
            verdict.expect("I4_outbox_row_published", row["published"] and not row["set_aside"],
                           f"{service} outbox row of {row['event_id']} not published")
            if row["event_id"] is not None:
                verdict.expect("I4_outbox_event_on_topic", row["event_id"] in on_topics,
                               f"{service} event {row['event_id']} is on no topic")


# ---- I3: ledgers balance ----------------------------------------------------------------------


async def _fund_transfer_ledger(conn: asyncpg.Connection, verdict: Verdict) -> None:
    journals = await conn.fetch(
        "SELECT journal_id, sum(amount_fen) FILTER (WHERE side = 'debit') AS debit_fen,"
        " sum(amount_fen) FILTER (WHERE side = 'credit') AS credit_fen"
        " FROM entry GROUP BY journal_id")
    for row in journals:
        verdict.expect("I3_journal_balances", row["debit_fen"] == row["credit_fen"],
                       f"journal {row['journal_id']}: {row['debit_fen']} != {row['credit_fen']}")
    obligations = await conn.fetch(
        "SELECT o.fiscal_entity_code, o.fund, o.period, o.amount_due_fen, o.settled_fen,"
        " coalesce(b.balance_fen, 0) AS balance_fen FROM obligation o LEFT JOIN account_balance b"
        " ON b.account = 'receivable:obligation/' || o.fiscal_entity_code || '/' || o.fund"
        " || '/' || o.period")
    for row in obligations:
        verdict.expect("I3_receivable_is_due_less_settled",
                       row["balance_fen"] == row["amount_due_fen"] - row["settled_fen"],
                       f"obligation {tuple(row)[:3]}: ledger {row['balance_fen']} vs "
                       f"{row['amount_due_fen']} - {row['settled_fen']}")
    notices = await conn.fetch(
        "SELECT n.notice_id, n.settled_fen, coalesce(sum(s.amount_fen), 0) AS applied_fen"
        " FROM notice n LEFT JOIN settlement s ON s.notice_id = n.notice_id AND s.applied"
        " AND s.outcome = 'settled' GROUP BY n.notice_id, n.settled_fen")
    for row in notices:
        verdict.expect("I3_notice_settled_is_its_settlements",
                       row["settled_fen"] == row["applied_fen"],
                       f"notice {row['notice_id']}: {row['settled_fen']} vs {row['applied_fen']}")


async def _annuity_balances(namespace: Namespace, conn: asyncpg.Connection,
                            verdict: Verdict) -> None:
    """Each member's sub-ledger balances equal what the published events say.

    Credits, top-up allocations, interest adjustments and back-credits name each member; a
    completed funding moves the members' amounts of its request from unit_notional to unit_real.
    A notional interest posting states only its entity's total, so its member entries are taken
    from the ledger once their sum per entity and year is checked against that total.
    """
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for event in _distinct(namespace.of_type(annuity.CONTRIBUTION_CREDITED)):
        for credit in event.data.get("credits", ()):
            for sub_ledger in ("individual_real", "unit_real", "unit_notional"):
                expected[(credit["person_id"], sub_ledger)] += parse_yuan(credit[sub_ledger])
    for event in _distinct(namespace.of_type(annuity.INTEREST_TOPUP_ALLOCATED)):
        for allocation in event.data.get("allocations", ()):
            expected[(allocation["person_id"], "interest_topup")] += parse_yuan(
                allocation["amount"])
    for event in _distinct(namespace.of_type(annuity.NOTIONAL_INTEREST_ADJUSTED)):
        for member in event.data.get("members", ()):
            expected[(member["person_id"], "unit_notional")] += parse_yuan(member["interest"])
    for event in _distinct(namespace.of_type(annuity.BACKCREDIT_COMPLETED)):
        expected[(event.data["person_id"], "unit_real")] += parse_yuan(event.data["amount"])
    requested = {e.data["funding_id"]: e.data
                 for e in _distinct(namespace.of_type(annuity.NOTIONAL_FUNDING_REQUESTED))}
    for event in _distinct(namespace.of_type(annuity.NOTIONAL_FUNDING_COMPLETED)):
        funding = requested.get(event.data["funding_id"])
        verdict.expect("I3_funding_completed_was_requested", funding is not None,
                       f"funding {event.data['funding_id']} completed, never requested")
        for member in (funding or {}).get("members", ()):
            amount_fen = parse_yuan(member["amount"])
            expected[(member["person_id"], "unit_notional")] -= amount_fen
            expected[(member["person_id"], "unit_real")] += amount_fen
    posted_fen = {(e.data["fiscal_entity_code"], str(e.data["year"])): parse_yuan(e.data["total"])
                  for e in _distinct(namespace.of_type(annuity.NOTIONAL_INTEREST_POSTED))}
    entries = await conn.fetch(
        "SELECT person_id, fiscal_entity_code, source_id, amount_fen FROM entry"
        " WHERE source_kind = 'notional_interest'")
    booked_fen: dict[tuple[str, str], int] = defaultdict(int)
    for row in entries:
        booked_fen[(row["fiscal_entity_code"], row["source_id"])] += row["amount_fen"]
        expected[(row["person_id"], "unit_notional")] += row["amount_fen"]
    for key in sorted(set(posted_fen) | set(booked_fen)):
        verdict.expect("I3_notional_interest_is_its_posting",
                       booked_fen.get(key, 0) == posted_fen.get(key, 0),
                       f"notional interest {key}: ledger {booked_fen.get(key, 0)} fen, "
                       f"event {posted_fen.get(key, 0)} fen")
    stored: dict[tuple[str, str], int] = {}
    for row in await conn.fetch("SELECT * FROM member_balance"):
        for sub_ledger in ("individual_real", "unit_real", "unit_notional", "interest_topup"):
            stored[(row["person_id"], sub_ledger)] = row[f"{sub_ledger}_fen"]
    for key in sorted({k for k, v in expected.items() if v} | {k for k, v in stored.items() if v}):
        verdict.expect("I3_member_balance_is_its_events", stored.get(key, 0) == expected[key],
                       f"member ****{key[0][-4:]} {key[1]}: ledger {stored.get(key, 0)} fen, "
                       f"events {expected[key]} fen")


# ---- I7: splits -------------------------------------------------------------------------------


def _splits(namespace: Namespace, verdict: Verdict) -> None:
    assessed: dict[str, int] = {}
    for event in _distinct(namespace.of_type(annuity.INTEREST_TOPUP_ASSESSED)):
        total = parse_yuan(event.data["total"])
        assessed[event.data["assessment_id"]] = total
        members = sum(parse_yuan(m["interest"]) for m in event.data["members"])
        verdict.expect("I7_interest_sums_to_total", members == total,
                       f"assessment {event.data['assessment_id']}: {members} != {total}")
    for event in _distinct(namespace.of_type(annuity.INTEREST_TOPUP_ALLOCATED)):
        allocations = event.data["allocations"]
        funded = parse_yuan(event.data["amount_funded"])
        people = [a["person_id"] for a in allocations]
        verdict.expect("I7_allocation_sums_to_funded",
                       sum(parse_yuan(a["amount"]) for a in allocations) == funded
                       and assessed.get(event.data["assessment_id"]) == funded,
                       f"allocation {event.data['assessment_id']} does not add up")
        verdict.expect("I7_one_allocation_per_member", len(people) == len(set(people)),
                       f"allocation {event.data['assessment_id']} names a member twice")


# ---- I8, I9 -----------------------------------------------------------------------------------


async def _lag(namespace: Namespace, env: CliEnv, verdict: Verdict) -> None:
    for service in SERVICE_NAMES:
        for topic in SERVICE_INPUTS[service]:
            lag = await committed_lag(env.group(service), env.topic(topic))
            verdict.expect("I8_lag_zero", lag == 0, f"{service} lags {lag} on {topic}")


def _logs(logs: Sequence[Path], identity_numbers: set[str], verdict: Verdict) -> None:
    """No 18-character identity number in any log line (the services mask anything shaped like
    one), and none of the month's own people in any form."""
    for path in logs:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            verdict.checked["I9_log_lines"] += 1
            if _carries_identity(line, identity_numbers):
                verdict.problems.append(f"I9: {path.name}:{number} carries an identity number")


def _carries_identity(line: str, identity_numbers: set[str]) -> bool:
    return RESIDENT_ID_PATTERN.search(line) is not None or any(
        person in line for person in identity_numbers)

