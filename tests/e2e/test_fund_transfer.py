"""fund_transfer on the real broker and database: appropriations become notices, settlements and
failures come back, deadline checks report shortfalls once per date, and after every scenario
the ledger in PostgreSQL balances and agrees with the obligations."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from services.fund_transfer import app
from shared.contracts import finance, transfer
from shared.ids import notice_id_for_appropriation, notice_id_for_request
from shared.money import format_yuan, parse_yuan
from tests.support import (
    cloudevent,
    connect_db,
    create_namespace,
    publish,
    read_to_end,
    read_topic,
    service_running,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("stack_env")

DEADLINE_CHECK = "ops.deadline_check.requested.v1"
FUND = "institution_basic_pension"
Event = dict[str, Any]


@pytest.fixture(scope="module")
async def ns() -> AsyncIterator[str]:
    """One namespace and one running service for the module; scenarios use their own ids."""
    namespace = await create_namespace()
    async with service_running(app.spec(), namespace):
        yield namespace


def run_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


_PERIODS = itertools.count(random.randrange(0, 12 * 1000))


def fresh_period() -> tuple[str, dt.date]:
    """A period no other scenario of this run uses (obligations are per entity, fund, period)."""
    n = next(_PERIODS)
    year, month = 2100 + n // 12, n % 12 + 1
    return f"{year}-{month:02d}", dt.date(year, month, 28)


class Scenario:
    """One appropriation's story: publishes inputs, waits for outputs, reads the schema."""

    def __init__(self, ns: str, entity: str = "150200", amount: str = "1000.00") -> None:
        self.ns = ns
        self.entity = entity
        self.amount = amount
        self.period, self.due_on = fresh_period()
        self.appropriation_id = run_id("A")
        self.event_ids: list[str] = []
        self.covered = {self.appropriation_id}  # what this scenario's notices may cover

    def notice(self, attempt: int = 0) -> str:
        return notice_id_for_appropriation(self.appropriation_id, attempt)

    def appropriation(self, **changes: Any) -> Event:
        return {"appropriation_id": self.appropriation_id, "fiscal_entity_code": self.entity,
                "fund": FUND, "period": self.period, "amount_due": self.amount,
                "due_on": self.due_on.isoformat(), "document_no": "包财社〔2100〕1号"} | changes

    async def send(self, topic: str, event_type: str, data: Event, *, key: str | None = None,
                   event_id: str | None = None, source: str = "/finance/150200") -> str:
        event_id = event_id or str(uuid.uuid4())
        self.event_ids.append(event_id)
        value = cloudevent(event_type, data, source=source, event_id=event_id)
        await publish(f"{self.ns}.{topic}", [((key or self.entity).encode(), value)])
        return event_id

    async def appropriate(self, **changes: Any) -> str:
        return await self.send(finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED,
                               self.appropriation(**changes))

    async def settle(self, amount: str, on: dt.date, notice_id: str | None = None,
                     settlement_id: str | None = None, event_id: str | None = None) -> str:
        settlement_id = settlement_id or run_id("S")
        data = {"settlement_id": settlement_id, "notice_id": notice_id or self.notice(),
                "amount_settled": amount, "value_date": on.isoformat(),
                "bank_reference": f"BR-{settlement_id}"}
        await self.send(finance.TOPIC_SETTLEMENTS, finance.SETTLED, data, event_id=event_id)
        return settlement_id

    async def fail(self, notice_id: str, on: dt.date) -> None:
        data = {"settlement_id": run_id("F"), "notice_id": notice_id,
                "reason": "收款账户冻结", "failed_on": on.isoformat()}
        await self.send(finance.TOPIC_SETTLEMENTS, finance.FAILED, data)

    async def check(self, as_of: dt.date) -> None:
        await self.send("ops.commands", DEADLINE_CHECK,
                        {"command_id": run_id("C"), "as_of": as_of.isoformat()},
                        key="fund_transfer", source="/ops/cli")

    def mine(self, event: Event) -> bool:
        data = event["data"]
        return (data.get("period") == self.period
                or bool(set(data.get("covers", ())) & self.covered))

    async def outputs(self, topic: str, until: Callable[[list[Event]], bool]) -> list[Event]:
        """This scenario's events on a topic, once `until` holds for them (bounded wait)."""
        def mine_only(records: list[Any]) -> list[Event]:
            return [r.event for r in records if self.mine(r.event)]

        records = await read_topic(f"{self.ns}.{topic}", until=lambda r: until(mine_only(r)),
                                   timeout_s=30)
        found = mine_only(records)
        assert until(found), [e["type"] for e in found]
        return found

    async def everything(self, topic: str) -> list[Event]:
        """All of this scenario's events on a topic so far (read to the end offsets)."""
        records = await read_to_end(f"{self.ns}.{topic}")
        return [r.event for r in records if self.mine(r.event)]

    async def quiet(self) -> None:
        """Every input of the scenario handled and every resulting event published."""
        async def drained() -> bool:
            conn = await connect_db(f"fund_transfer_{self.ns}")
            try:
                handled = await conn.fetchval(
                    "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY($1::text[])",
                    self.event_ids)
                unpublished = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            except asyncpg.UndefinedTableError:
                return False
            finally:
                await conn.close()
            return bool(handled == len(set(self.event_ids)) and unpublished == 0)

        await wait_for(drained, timeout_s=30, what="inputs handled and outbox published")


def having(**expected: int) -> Callable[[list[Event]], bool]:
    """True once at least the given number of each event type (dots as underscores) is there."""
    wanted = {name.replace("__", "."): n for name, n in expected.items()}

    def reached(events: list[Event]) -> bool:
        return all(sum(1 for e in events if e["type"] == t) >= n for t, n in wanted.items())
    return reached


def of_type(events: list[Event], event_type: str) -> list[Event]:
    return [e["data"] for e in events if e["type"] == event_type]


ISSUED = transfer.NOTICE_ISSUED.replace(".", "__")
SETTLED = transfer.NOTICE_SETTLED.replace(".", "__")
FAILED = transfer.NOTICE_FAILED.replace(".", "__")
FULFILLED = transfer.OBLIGATION_FULFILLED.replace(".", "__")
OVERPAID = transfer.OBLIGATION_OVERPAID.replace(".", "__")
SHORTFALL = transfer.OBLIGATION_SHORTFALL.replace(".", "__")


# ---- the ledger invariants (TESTING.md I3), checked against the database ---------------------

_UNBALANCED_JOURNALS = """
SELECT j.journal_id
FROM journal j LEFT JOIN entry e USING (journal_id)
GROUP BY j.journal_id
HAVING coalesce(sum(e.amount_fen) FILTER (WHERE e.side = 'debit'), 0)
       <> coalesce(sum(e.amount_fen) FILTER (WHERE e.side = 'credit'), 0)
    OR count(e.journal_id) = 0
"""
_OBLIGATION_FIGURES = """
SELECT o.fiscal_entity_code, o.fund, o.period, o.amount_due_fen, o.settled_fen,
       (SELECT coalesce(sum(a.amount_fen), 0) FROM appropriation a
         WHERE (a.fiscal_entity_code, a.fund, a.period) = (o.fiscal_entity_code, o.fund, o.period)
       ) AS appropriated_fen,
       (SELECT coalesce(sum(s.amount_fen), 0) FROM settlement s JOIN notice n USING (notice_id)
         WHERE s.applied AND s.outcome = 'settled' AND n.origin = 'appropriation'
           AND (n.source_entity_code, n.fund, n.period) = (o.fiscal_entity_code, o.fund, o.period)
       ) AS settlements_fen,
       (SELECT b.balance_fen FROM account_balance b
         WHERE b.account = 'receivable:obligation/' || o.fiscal_entity_code || '/' || o.fund
                           || '/' || o.period) AS receivable_fen
FROM obligation o
"""
_NOTICE_FIGURES = """
SELECT n.notice_id, n.settled_fen,
       (SELECT coalesce(sum(s.amount_fen), 0) FROM settlement s
         WHERE s.notice_id = n.notice_id AND s.applied AND s.outcome = 'settled') AS settlements_fen
FROM notice n
"""
_REQUEST_FIGURES = """
SELECT r.request_id, r.amount_fen,
       (SELECT coalesce(sum(s.amount_fen), 0) FROM settlement s JOIN notice n USING (notice_id)
         WHERE n.origin = 'request' AND n.origin_id = r.request_id AND s.applied
           AND s.outcome = 'settled') AS settled_fen,
       (SELECT b.balance_fen FROM account_balance b
         WHERE b.account = 'receivable:request/' || r.request_id) AS receivable_fen
FROM transfer_request r
"""
_BALANCES_NOT_FROM_ENTRIES = """
WITH direct AS (
    SELECT account, sum(CASE side WHEN 'debit' THEN amount_fen ELSE -amount_fen END) AS balance_fen
    FROM entry GROUP BY account)
(SELECT account, balance_fen FROM account_balance EXCEPT SELECT account, balance_fen FROM direct)
UNION ALL
(SELECT account, balance_fen FROM direct EXCEPT SELECT account, balance_fen FROM account_balance)
"""


async def assert_ledger_invariants(ns: str) -> None:
    """Every journal balances; per obligation due - settled = outstanding (the receivable);
    settled sums equal their settlements; balances equal the sum of entries; money only moves."""
    conn = await connect_db(f"fund_transfer_{ns}")
    try:
        assert await conn.fetch(_UNBALANCED_JOURNALS) == []
        for row in await conn.fetch(_OBLIGATION_FIGURES):
            assert row["amount_due_fen"] == row["appropriated_fen"], dict(row)
            assert row["settled_fen"] == row["settlements_fen"], dict(row)
            assert row["amount_due_fen"] - row["settled_fen"] == row["receivable_fen"], dict(row)
        for row in await conn.fetch(_NOTICE_FIGURES):
            assert row["settled_fen"] == row["settlements_fen"], dict(row)
        for row in await conn.fetch(_REQUEST_FIGURES):
            assert row["amount_fen"] - row["settled_fen"] == row["receivable_fen"], dict(row)
        assert await conn.fetch(_BALANCES_NOT_FROM_ENTRIES) == []
        banks = await conn.fetchval(
            "SELECT coalesce(sum(balance_fen), 0) FROM account_balance WHERE account LIKE 'bank:%'")
        assert banks == 0
    finally:
        await conn.close()


# ---- scenarios --------------------------------------------------------------------------------


async def test_an_appropriation_settled_in_full_on_time(ns: str) -> None:
    s = Scenario(ns, entity="150100")
    await s.appropriate()
    [issued] = of_type(await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1})),
                       transfer.NOTICE_ISSUED)
    assert issued["notice_id"] == s.notice()
    assert (issued["amount"], issued["source_account"]["entity_code"],
            issued["target_account"]["entity_code"]) == ("1000.00", "150100", "150000")
    await s.settle("1000.00", s.due_on)
    events = await s.outputs(transfer.TOPIC_NOTICES, having(**{SETTLED: 1}))
    assert of_type(events, transfer.NOTICE_SETTLED)[0]["amount_settled"] == "1000.00"
    outcome = await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{FULFILLED: 1}))
    [fulfilled] = of_type(outcome, transfer.OBLIGATION_FULFILLED)
    assert (fulfilled["days_late"], fulfilled["as_of"]) == (0, s.due_on.isoformat())
    await s.quiet()
    await assert_ledger_invariants(ns)


async def test_an_appropriation_settled_in_two_partial_settlements(ns: str) -> None:
    s = Scenario(ns)
    await s.appropriate()
    await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1}))
    first = await s.settle("399.99", s.due_on - dt.timedelta(days=2))
    second = await s.settle("600.01", s.due_on - dt.timedelta(days=1))
    events = await s.outputs(transfer.TOPIC_NOTICES, having(**{SETTLED: 1}))
    [settled] = of_type(events, transfer.NOTICE_SETTLED)
    assert settled["bank_references"] == [f"BR-{first}", f"BR-{second}"]
    assert settled["value_date"] == (s.due_on - dt.timedelta(days=1)).isoformat()
    await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{FULFILLED: 1}))
    await s.quiet()
    events = await s.everything(transfer.TOPIC_NOTICES)
    assert len(of_type(events, transfer.NOTICE_SETTLED)) == 1
    await assert_ledger_invariants(ns)


async def test_a_failed_notice_is_replaced_and_the_replacement_settled(ns: str) -> None:
    s = Scenario(ns, entity="152500")
    await s.appropriate()
    await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1}))
    await s.settle("250.00", s.due_on - dt.timedelta(days=3))
    await s.fail(s.notice(0), s.due_on - dt.timedelta(days=2))
    events = await s.outputs(transfer.TOPIC_NOTICES, having(**{FAILED: 1, ISSUED: 2}))
    [failed] = of_type(events, transfer.NOTICE_FAILED)
    assert (failed["notice_id"], failed["replaced_by"]) == (s.notice(0), s.notice(1))
    replacement = of_type(events, transfer.NOTICE_ISSUED)[1]
    assert (replacement["notice_id"], replacement["attempt"], replacement["replaces"]) == (
        s.notice(1), 1, s.notice(0))
    assert (replacement["amount"], replacement["due_on"]) == ("750.00", s.due_on.isoformat())
    await s.settle("750.00", s.due_on, notice_id=s.notice(1))
    events = await s.outputs(transfer.TOPIC_NOTICES, having(**{SETTLED: 1}))
    assert of_type(events, transfer.NOTICE_SETTLED)[0]["notice_id"] == s.notice(1)
    await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{FULFILLED: 1}))
    await s.quiet()
    await assert_ledger_invariants(ns)


async def test_a_shortfall_at_the_due_date_that_later_closes(ns: str) -> None:
    s = Scenario(ns, entity="150781")
    await s.appropriate()
    await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1}))
    await s.settle("100.00", s.due_on)
    await s.check(s.due_on)  # the due date itself is still on time
    await s.check(s.due_on + dt.timedelta(days=1))
    events = await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{SHORTFALL: 1}))
    [shortfall] = of_type(events, transfer.OBLIGATION_SHORTFALL)
    assert (shortfall["fiscal_entity_code"], shortfall["amount_outstanding"],
            shortfall["as_of"]) == ("150781", "900.00",
                                    (s.due_on + dt.timedelta(days=1)).isoformat())
    await s.settle("900.00", s.due_on + dt.timedelta(days=3))
    events = await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{FULFILLED: 1}))
    [fulfilled] = of_type(events, transfer.OBLIGATION_FULFILLED)
    assert fulfilled["days_late"] == 3
    await s.quiet()
    events = await s.everything(transfer.TOPIC_OBLIGATIONS)
    assert len(of_type(events, transfer.OBLIGATION_SHORTFALL)) == 1
    assert len(of_type(events, transfer.OBLIGATION_FULFILLED)) == 1
    await assert_ledger_invariants(ns)


async def test_an_overpayment_is_recorded_and_reported_not_absorbed(ns: str) -> None:
    s = Scenario(ns, entity="150600")
    await s.appropriate()
    await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1}))
    await s.settle("1000.00", s.due_on)
    await s.settle("12.34", s.due_on + dt.timedelta(days=1))
    events = await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{FULFILLED: 1, OVERPAID: 1}))
    [overpaid] = of_type(events, transfer.OBLIGATION_OVERPAID)
    assert (overpaid["amount_excess"], overpaid["amount_settled"], overpaid["amount_due"]) == (
        "12.34", "1012.34", "1000.00")
    await s.quiet()
    conn = await connect_db(f"fund_transfer_{ns}")
    try:
        balance = await conn.fetchval(
            "SELECT balance_fen FROM account_balance WHERE account = $1",
            f"receivable:obligation/150600/{FUND}/{s.period}")
    finally:
        await conn.close()
    assert balance == -1234
    await assert_ledger_invariants(ns)


async def test_a_settlement_before_its_notice_waits_for_it(ns: str) -> None:
    s = Scenario(ns, entity="150300")
    await s.settle("1000.00", s.due_on)
    await s.quiet()  # stored, waiting: the notice does not exist yet
    await s.appropriate()
    events = await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1, SETTLED: 1}))
    assert [e["type"] for e in events] == [transfer.NOTICE_ISSUED, transfer.NOTICE_SETTLED]
    await s.outputs(transfer.TOPIC_OBLIGATIONS, having(**{FULFILLED: 1}))
    await s.quiet()
    await assert_ledger_invariants(ns)


async def test_duplicated_appropriation_and_settlement_events_count_once(ns: str) -> None:
    s = Scenario(ns, entity="150400")
    appropriation_event = await s.appropriate()
    await s.send(finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED, s.appropriation(),
                 event_id=appropriation_event)  # redelivery of the same event
    await s.send(finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED,  # event id reused
                 s.appropriation(document_no="另一文号"), event_id=appropriation_event)
    await s.appropriate()  # the same appropriation again, under a new event id
    await s.appropriate(amount_due="1.00")  # the same appropriation id with other content
    settlement_id = run_id("S")
    settlement_event = await s.settle("400.00", s.due_on, settlement_id=settlement_id)
    await s.settle("400.00", s.due_on, settlement_id=settlement_id, event_id=settlement_event)
    await s.settle("999.00", s.due_on, settlement_id=run_id("S"), event_id=settlement_event)
    await s.settle("400.00", s.due_on, settlement_id=settlement_id)
    await s.settle("401.00", s.due_on, settlement_id=settlement_id)
    await s.quiet()
    notices = [r.event for r in await read_to_end(f"{ns}.{transfer.TOPIC_NOTICES}")]
    rejected = [e["data"] for e in notices if e["type"] == transfer.SETTLEMENT_REJECTED
                and e["data"]["notice_id"] == s.notice()]
    assert [r["reasons"][0]["code"] for r in rejected] == ["CONFLICTING_DUPLICATE"] * 2
    obligations = [r.event for r in await read_to_end(f"{ns}.{transfer.TOPIC_OBLIGATIONS}")]
    rejected = [e["data"] for e in obligations
                if e["data"].get("appropriation_id") == s.appropriation_id]
    assert [r["reasons"][0]["code"] for r in rejected] == ["CONFLICTING_DUPLICATE"] * 2
    events = await s.everything(transfer.TOPIC_NOTICES)
    assert len(of_type(events, transfer.NOTICE_ISSUED)) == 1
    conn = await connect_db(f"fund_transfer_{ns}")
    try:
        settled_fen = await conn.fetchval("SELECT settled_fen FROM notice WHERE notice_id = $1",
                                          s.notice())
    finally:
        await conn.close()
    assert settled_fen == parse_yuan("400.00")
    await assert_ledger_invariants(ns)


async def test_a_transfer_request_from_another_service_becomes_a_notice(ns: str) -> None:
    s = Scenario(ns, entity="150900")
    request_id = str(uuid.uuid4())
    s.covered.add(request_id)
    request = {"request_id": request_id, "purpose": "annuity_remittance",
               "fund": "occupational_annuity", "period": s.period, "amount": "321.09",
               "source": {"entity_code": "150900", "kind": "annuity_collection"},
               "target": {"entity_code": "150000", "kind": "annuity_collection"},
               "due_on": s.due_on.isoformat()}
    transfer.TransferRequested.model_validate(request)
    await s.send(transfer.TOPIC_REQUESTS, transfer.REQUESTED, request,
                 source="/occupational_annuity")
    notice_id = notice_id_for_request(request_id, 0)
    [issued] = of_type(await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1})),
                       transfer.NOTICE_ISSUED)
    assert (issued["notice_id"], issued["purpose"], issued["covers"]) == (
        notice_id, "annuity_remittance", [request_id])
    assert issued["source_account"]["account_no"] == "SAMPLE-150900-02"
    await s.settle("321.09", s.due_on, notice_id=notice_id)
    events = await s.outputs(transfer.TOPIC_NOTICES, having(**{SETTLED: 1}))
    assert of_type(events, transfer.NOTICE_SETTLED)[0]["covers"] == [request_id]
    await s.check(s.due_on + dt.timedelta(days=400))
    await s.quiet()
    assert await s.everything(transfer.TOPIC_OBLIGATIONS) == []
    await assert_ledger_invariants(ns)


async def test_a_deadline_check_run_twice_for_one_date_reports_once(ns: str) -> None:
    s = Scenario(ns, entity="152900", amount=format_yuan(5_000_00))
    await s.appropriate()
    await s.outputs(transfer.TOPIC_NOTICES, having(**{ISSUED: 1}))
    as_of = s.due_on + dt.timedelta(days=5)
    await s.check(as_of)
    await s.check(as_of)
    await s.quiet()
    events = await s.everything(transfer.TOPIC_OBLIGATIONS)
    shortfalls = of_type(events, transfer.OBLIGATION_SHORTFALL)
    assert [(x["as_of"], x["days_late"], x["amount_outstanding"]) for x in shortfalls] == [
        (as_of.isoformat(), 5, "5000.00")]
    await s.check(as_of + dt.timedelta(days=1))  # a later date reports it again
    await s.quiet()
    events = await s.everything(transfer.TOPIC_OBLIGATIONS)
    assert [x["days_late"] for x in of_type(events, transfer.OBLIGATION_SHORTFALL)] == [5, 6]
    await assert_ledger_invariants(ns)


async def test_an_unbalanced_journal_fails_at_commit(ns: str) -> None:
    s = Scenario(ns)
    await s.quiet()  # the service has migrated its schema
    conn = await connect_db(f"fund_transfer_{ns}")
    journal_id = run_id("test/unbalanced")
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("INSERT INTO journal (journal_id, kind, reference_id, business_date)"
                           " VALUES ($1, 'settlement', 'x', '2025-01-01')", journal_id)
        await conn.execute("INSERT INTO entry (journal_id, line_no, account, side, amount_fen)"
                           " VALUES ($1, 1, 'bank:150000/special', 'debit', 100),"
                           "        ($1, 2, 'bank:150200/special', 'credit', 99)", journal_id)
        with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
            await transaction.commit()
        assert await conn.fetchval("SELECT count(*) FROM journal WHERE journal_id = $1",
                                   journal_id) == 0
    finally:
        await conn.close()


async def test_a_malformed_appropriation_is_rejected_with_every_reason(ns: str) -> None:
    s = Scenario(ns, entity="152200")
    await s.appropriate(amount_due=12.5, fiscal_entity_code="150000", due_on="2100-02-30")
    await s.quiet()
    events = [r.event for r in await read_to_end(f"{ns}.{transfer.TOPIC_OBLIGATIONS}")]
    [rejected] = [e["data"] for e in events
                  if e["data"].get("appropriation_id") == s.appropriation_id]
    assert sorted((r["code"], r["field"]) for r in rejected["reasons"]) == [
        ("AMOUNT_INVALID", "amount_due"), ("DATE_INVALID", "due_on"),
        ("ENTITY_UNKNOWN", "fiscal_entity_code")]
    await assert_ledger_invariants(ns)


async def test_two_instances_racing_on_notices_lose_no_settlement() -> None:
    """Appropriations and their settlements on other partitions, consumed by two instances at
    once: no settlement is left waiting for a notice that exists, nothing counts twice."""
    namespace = await create_namespace()
    entities = ["150100", "150200", "150300", "150400", "150500", "150600"]
    scenarios = [Scenario(namespace, entity=entities[i % len(entities)], amount="10.00")
                 for i in range(120)]
    appropriations, settlements = [], []
    for i, s in enumerate(scenarios):
        appropriations.append((s.entity.encode(), cloudevent(
            finance.APPROPRIATED, s.appropriation(), source="/finance/x")))
        data = {"settlement_id": run_id("S"), "notice_id": s.notice(), "amount_settled": "10.00",
                "value_date": s.due_on.isoformat(), "bank_reference": f"BR-{i}"}
        # Keyed by another entity on purpose: its partition may belong to the other instance.
        other = entities[(i + 1) % len(entities)].encode()
        settlements.append((other, cloudevent(finance.SETTLED, data, source="/finance/x")))
    async with service_running(app.spec(), namespace), service_running(app.spec(), namespace):
        await asyncio.gather(
            publish(f"{namespace}.{finance.TOPIC_APPROPRIATIONS}", appropriations),
            publish(f"{namespace}.{finance.TOPIC_SETTLEMENTS}", settlements))

        async def all_settled() -> bool:
            conn = await connect_db(f"fund_transfer_{namespace}")
            try:
                return bool(await conn.fetchval(
                    "SELECT count(*) FROM notice WHERE state = 'settled'") == len(scenarios))
            except asyncpg.UndefinedTableError:
                return False
            finally:
                await conn.close()

        await wait_for(all_settled, timeout_s=60, what="every notice settled")
    conn = await connect_db(f"fund_transfer_{namespace}")
    try:
        stranded = await conn.fetchval(
            "SELECT count(*) FROM settlement s JOIN notice n USING (notice_id) WHERE NOT s.applied")
        fulfilled = await conn.fetchval(
            "SELECT count(*) FROM obligation WHERE settled_fen = amount_due_fen")
    finally:
        await conn.close()
    assert (stranded, fulfilled) == (0, len(scenarios))
    await assert_ledger_invariants(namespace)

