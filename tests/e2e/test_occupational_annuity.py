"""occupational_annuity on the real broker and database, driven by what collection, fund_transfer
and operators publish: credits, remittances, top-ups and notional interest, every step replayed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.occupational_annuity import app
from shared.access import OPERATOR
from shared.contracts import transfer
from shared.ids import notice_id_for_request, remittance_id, topup_assessment_id
from shared.money import parse_yuan
from tests.e2e.annuity_support import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    EVE,
    Records,
    amount_due,
    collection_records,
    declared_and_paid,
    publish_records,
    registered,
    rejected,
    run_id,
    settled,
)
from tests.support import (
    Received,
    cloudevent,
    committed_lag,
    connect_db,
    create_namespace,
    kafka_options,
    read_topic,
    service_running,
    wait_for,
)

INPUT_TOPICS = ("collection.declarations", "transfer.notices", "hr.annuity.events", "ops.commands")
OUTPUT_TOPICS = ("annuity.ledger", "transfer.requests", "ops.commands")
COMMAND_TYPES = frozenset({"ops.deadline_check.requested.v1", "ops.notional_interest.requested.v1",
                           "ops.annuity_funding.requested.v1"})
NAMESPACE_PARTITIONS = 3  # tests.support.create_namespace


def notice_settled(request_id: str, entity: str, purpose: str, amount: str, value_date: str,
                   attempt: int = 0) -> Records:
    data = {"notice_id": notice_id_for_request(request_id, attempt), "attempt": attempt,
            "purpose": purpose, "covers": [request_id], "amount": amount,
            "amount_settled": amount, "value_date": value_date,
            "bank_references": [run_id("BANK")]}
    transfer.NoticeSettled.model_validate(data)  # exactly what fund_transfer would publish
    return [("transfer.notices", entity.encode(),
             cloudevent("transfer.notice.settled.v1", data, source="/fund_transfer"))]


def notice_failed(request_id: str, entity: str, amount: str) -> Records:
    data = {"notice_id": notice_id_for_request(request_id, 0), "attempt": 0,
            "purpose": "annuity_remittance", "covers": [request_id], "amount": amount,
            "amount_settled": "0.00", "reason": "account frozen", "failed_on": "2025-04-14",
            "replaced_by": notice_id_for_request(request_id, 1)}
    transfer.NoticeFailed.model_validate(data)
    return [("transfer.notices", entity.encode(),
             cloudevent("transfer.notice.failed.v1", data, source="/fund_transfer"))]


def command(event_type: str, **data: Any) -> Records:
    return [("ops.commands", b"all",
             cloudevent(event_type, {"command_id": run_id("C"), **data}, source="/ops/cli"))]


def command_with_event_id(event_id: str, event_type: str, **data: Any) -> Records:
    return [("ops.commands", b"all", cloudevent(event_type, {"command_id": run_id("C"), **data},
                                                 source="/ops/cli", event_id=event_id))]


def deadline_check(as_of: str) -> Records:
    return command("ops.deadline_check.requested.v1", as_of=as_of)


def notional(year: int) -> Records:
    return command("ops.notional_interest.requested.v1", year=year)


# ---- driving and observing ---------------------------------------------------------------------


class Harness:
    def __init__(self, namespace: str, db: asyncpg.Connection,
                 offsets: AIOKafkaConsumer) -> None:
        self.namespace = namespace
        self.db = db
        self.offsets = offsets
        self.group = f"occupational_annuity_{namespace}"
        self.counts: dict[str, int] = {}  # records of each output topic seen so far
        self.positions: dict[str, set[tuple[int, int]]] = {}

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    async def publish(self, records: Records) -> None:
        await publish_records(self.namespace, records)

    async def end_offset_total(self, name: str) -> int:
        """Records ever written to a topic of the namespace (its partitions start at 0)."""
        topic = self.topic(name)
        partitions = [TopicPartition(topic, p) for p in range(NAMESPACE_PARTITIONS)]
        return sum((await self.offsets.end_offsets(partitions)).values())

    async def read_records(self, name: str) -> list[Received]:
        total = await self.end_offset_total(name)
        records = await read_topic(self.topic(name), until=lambda got: len(got) >= total,
                                   timeout_s=30)
        assert len(records) == total
        return sorted(records, key=lambda r: (r.partition, r.offset))

    async def read_all(self, name: str) -> list[dict[str, Any]]:
        return [record.event for record in await self.read_records(name)]

    async def quiet(self) -> None:
        """Every input consumed and committed, every outbox row published."""
        async def drained() -> bool:
            for name in INPUT_TOPICS:
                if await committed_lag(self.group, self.topic(name)) != 0:
                    return False
            unpublished = await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return bool(unpublished == 0)
        await wait_for(drained, timeout_s=60, what="the service to drain")

    async def new_events(self, name: str) -> list[dict[str, Any]]:
        """Events of a topic published since the last call."""
        records = await self.read_records(name)
        seen = self.positions.setdefault(name, set())
        fresh = [r.event for r in records if (r.partition, r.offset) not in seen]
        seen.update((r.partition, r.offset) for r in records)
        self.counts[name] = len(records)
        return fresh

    async def step(self, records: Records, expected: Counter[str],
                   replays: Callable[[], Records] | None = None,
                   replay_count: int = 2) -> list[dict[str, Any]]:
        """Publish, wait for exactly `expected` new outputs; replay twice: nothing more."""
        before = {name: self.counts.get(name, 0) for name in OUTPUT_TOPICS}
        commands = sum(1 for topic, _, _ in records if topic == "ops.commands")
        await self.publish(records)

        async def arrived() -> bool:
            got = -commands  # our own commands share ops.commands with the rejections
            for name in OUTPUT_TOPICS:
                got += await self.end_offset_total(name) - before[name]
            return got >= sum(expected.values())
        await wait_for(arrived, timeout_s=60, what=f"outputs {dict(expected)}")
        await self.quiet()
        fresh = await self.outputs()
        assert Counter(e["type"] for e in fresh) == expected
        for _ in range(replay_count):
            await self.publish(records)
            if replays is not None:
                await self.publish(replays())
        await self.quiet()
        again = await self.outputs()
        assert again == [], f"a replay had a second effect: {[e['type'] for e in again]}"
        return fresh

    async def outputs(self) -> list[dict[str, Any]]:
        return [event for name in OUTPUT_TOPICS for event in await self.new_events(name)
                if event["type"] not in COMMAND_TYPES]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == event_type]


async def run(check: Callable[[Harness], Awaitable[None]], **settings: object) -> None:
    namespace = await create_namespace()
    offsets = AIOKafkaConsumer(**kafka_options(OPERATOR), group_id=None)
    await offsets.start()
    async with service_running(app.spec(), namespace, **settings):
        db = await connect_db(f"occupational_annuity_{namespace}")
        try:
            await check(Harness(namespace, db, offsets))
        finally:
            await db.close()
            await offsets.stop()


REGISTERED = "collection.declaration.registered.v1"
SETTLED = "collection.contribution.settled.v1"
CREDITED = "annuity.contribution.credited.v1"
UNCREDITED = "annuity.contribution.uncredited.v1"
TRANSFER = "transfer.requested.v1"
REQUESTED = "annuity.remittance.requested.v1"
COMPLETED = "annuity.remittance.completed.v1"
OVERDUE = "annuity.remittance.overdue.v1"
ASSESSED = "annuity.interest_topup.assessed.v1"
ALLOCATED = "annuity.interest_topup.allocated.v1"
POSTED = "annuity.notional_interest.posted.v1"
REFUSED = "annuity.notional_interest.refused.v1"
ADJUSTED = "annuity.notional_interest.adjusted.v1"
REJECTED = "ops.command.rejected.v1"


async def test_the_annuity_chain_credits_remits_tops_up_and_posts_interest_exactly_once() -> None:
    async def chain(h: Harness) -> None:
        await credit_self_and_treasury_funded_declarations(h)
        await remit_settle_on_time_and_report_overdue(h)
        await remit_late_credits_in_a_supplementary_remittance(h)
        await assess_fund_and_allocate_the_pre_2020_backlog(h)
        await post_notional_interest_once_per_year(h)
        await check_the_books(h)

    await run(chain)


async def test_without_configured_rates_periods_are_held_and_notional_interest_refused() -> None:
    async def chain(h: Harness) -> None:
        old = registered(run_id("D"), "150200", "2019-06", "treasury_full", [(ALICE, 500_000)])
        await h.step(declared_and_paid(old), Counter({CREDITED: 1}))
        # The remittance does not need a rate; the top-up does, so that period waits, recorded.
        await h.step(deadline_check("2025-06-01"), Counter({TRANSFER: 1, REQUESTED: 1,
                                                             OVERDUE: 1}),
                     replays=lambda: deadline_check("2025-06-01"))
        hold = await h.db.fetchrow("SELECT * FROM topup_hold")
        assert hold is not None
        assert (hold["fiscal_entity_code"], hold["fee_period"], hold["missing_years"]) == (
            "150200", "2019-06", [2019, 2020])
        assert await h.db.fetchval("SELECT topup_state FROM credit") == "pending"
        fresh = await h.step(notional(2020), Counter({REFUSED: 1}))
        assert of_type(fresh, REFUSED)[0]["reason"] == "RATE_NOT_CONFIGURED"
        assert await h.db.fetchval("SELECT count(*) FROM notional_posting") == 0

    await run(chain, rule_set="production")


async def test_years_post_in_order_and_a_late_back_year_credit_earns_the_missed_interest(
) -> None:
    async def chain(h: Harness) -> None:
        # DAVE's notional 400.00 of 2019-12 earns from 2020 on: 2021 waits for 2020.
        await h.step(declared_and_paid(registered(run_id("D"), "150500", "2019-12",
                                                  "treasury_full", [(DAVE, 500_000)])),
                     Counter({CREDITED: 1}))
        fresh = await h.step(notional(2021), Counter({REFUSED: 1}))
        refusal = of_type(fresh, REFUSED)[0]
        assert (refusal["year"], refusal["reason"], refusal["unposted_year"]) == (
            2021, "PREVIOUS_YEAR_NOT_POSTED", 2020)
        await h.step(notional(2020), Counter({POSTED: 1}))  # 400.00 x 4.00% = 16.00
        await h.step(notional(2021), Counter({POSTED: 1}))  # 416.00 x 3.80% = 15.81
        late = registered(run_id("D"), "150500", "2019-06", "treasury_full", [(DAVE, 250_000)])
        new_member = registered(run_id("D"), "150500", "2020-03", "treasury_full",
                                [(CAROL, 300_000)])
        fresh = await h.step(declared_and_paid(late) + declared_and_paid(new_member),
                             Counter({CREDITED: 2, ADJUSTED: 3}))
        adjusted = {(a["cause_id"], a["year"]): a for a in of_type(fresh, ADJUSTED)}
        # DAVE's late 200.00 of 2019-06: 2020 on 600.00 = 24.00, 16.00 posted -> 8.00;
        # 2021 on 600.00 + 16.00 + 8.00 = 624.00 x 3.80% = 23.71, 15.81 posted -> 7.90.
        dave = [(year, a["members"], a["rate"], a["cause"])
                for (cause_id, year), a in sorted(adjusted.items())
                if cause_id == late["declaration_id"]]
        assert dave == [
            (2020, [{"person_id": DAVE, "interest": "8.00"}], "0.0400", "late_credit"),
            (2021, [{"person_id": DAVE, "interest": "7.90"}], "0.0380", "late_credit")]
        # CAROL's 240.00 of 2020-03 missed only 2021: 240.00 x 3.80% = 9.12.
        assert adjusted[(new_member["declaration_id"], 2021)]["total"] == "9.12"
        await h.step(notional(2021), Counter())  # adjusted members count as posted for 2021
        await post_earlier_years_after_later_ones(h)
        balances = {r["person_id"]: r["unit_notional_fen"]
                    for r in await h.db.fetch("SELECT * FROM member_balance")}
        assert balances == {DAVE: 40_000 + 20_000 + 1_600 + 1_581 + 800 + 790,
                            CAROL: 24_000 + 912,
                            # as if 2018..2021 had been posted in order: 200.00 x 1.044 ->
                            # 208.80, x 1.042 -> 217.57, x 1.04 -> 226.27, x 1.038 -> 234.87
                            EVE: 23_487}

    await run(chain)


async def post_earlier_years_after_later_ones(h: Harness) -> None:
    """EVE's 200.00 of 2017-06 arrives after 2020 and 2021 were posted: they are adjusted at
    once; 2018 and 2019 may still be posted (no money earned in the years before them), and each
    adjusts the later years again, so EVE ends where posting in order would have put her."""
    late = registered(run_id("D"), "150500", "2017-06", "treasury_full", [(EVE, 250_000)])
    fresh = await h.step(declared_and_paid(late), Counter({CREDITED: 1, ADJUSTED: 2}))
    assert [a["total"] for a in of_type(fresh, ADJUSTED)] == ["8.00", "7.90"]
    for year, posted, adjusted in ((2018, "8.80", ["0.35", "0.35"]),
                                   (2019, "8.77", ["0.35", "0.35"])):
        fresh = await h.step(notional(year), Counter({POSTED: 1, ADJUSTED: 2}))
        assert of_type(fresh, POSTED)[0]["total"] == posted
        assert [(a["cause"], a["year"], a["total"]) for a in of_type(fresh, ADJUSTED)] == [
            ("late_posting", 2020, adjusted[0]), ("late_posting", 2021, adjusted[1])]


async def credit_self_and_treasury_funded_declarations(h: Harness) -> None:
    d1_first = registered(run_id("D1"), "150200", "2025-03", "self",
                          [(ALICE, 490_700), (BOB, 600_000)])
    d1 = registered(d1_first["declaration_id"], "150200", "2025-03", "self",
                    [(ALICE, 490_700), (BOB, 700_000)], revision=1)
    d2 = registered(run_id("D2"), "150100", "2025-03", "treasury_full", [(CAROL, 490_700)])
    d3 = registered(run_id("D3"), "150000", "2025-03", "self", [(DAVE, 490_700)])
    d4 = registered(run_id("D4"), "150200", "2025-04", "self", [(ALICE, 490_700)])
    other = registered(run_id("N"), "150200", "2025-03", None, [(BOB, 600_000)],
                       scheme="enterprise_basic")
    d2_paid = settled(d2, run_id("P"), amount_due(d2))
    d4_short = settled(d4, run_id("P"), 50_000)
    d4_rest = settled(d4, run_id("P"), amount_due(d4) - 50_000, amount_due(d4))
    # A payment that arrives before its declaration waits: no effect until the declaration.
    await h.step(collection_records((SETTLED, d2_paid)), Counter())
    records = collection_records(
        (REGISTERED, d1_first), (REGISTERED, d1),
        (SETTLED, settled(d1, run_id("P"), amount_due(d1))),
        (REGISTERED, d2), (REGISTERED, d3), (SETTLED, settled(d3, run_id("P"), amount_due(d3))),
        (REGISTERED, d4), (SETTLED, d4_short), (SETTLED, d4_rest),
        (REGISTERED, other), (SETTLED, settled(other, run_id("P"), amount_due(other))),
        ("collection.declaration.rejected.v1", rejected(run_id("D"))),  # not ours to handle
    )
    fresh = await h.step(records, Counter({CREDITED: 4, UNCREDITED: 1}), replays=lambda: (
        collection_records((SETTLED, d2_paid), (SETTLED, d4_rest), (REGISTERED, d1_first))))
    credited = {c["declaration_id"]: c for c in of_type(fresh, CREDITED)}
    assert set(credited) == {d1["declaration_id"], d2["declaration_id"], d3["declaration_id"],
                             d4["declaration_id"]}
    # Revision 1 replaced revision 0's lines: BOB's base is 7,000.00 there.
    assert credited[d1["declaration_id"]]["credits"] == [
        {"person_id": ALICE, "individual_real": "196.28", "unit_real": "392.56",
         "unit_notional": "0.00"},
        {"person_id": BOB, "individual_real": "280.00", "unit_real": "560.00",
         "unit_notional": "0.00"}]
    treasury = credited[d2["declaration_id"]]
    assert (treasury["unit_funding"], treasury["individual_real_total"],
            treasury["unit_real_total"], treasury["unit_notional_total"]) == (
        "treasury_full", "196.28", "0.00", "392.56")
    assert of_type(fresh, UNCREDITED) == [{"declaration_id": d4["declaration_id"],
                                           "payment_id": d4_short["payment_id"],
                                           "reason": "UNDERPAID"}]


async def remit_settle_on_time_and_report_overdue(h: Harness) -> None:
    fresh = await h.step(deadline_check("2025-04-05"), Counter({TRANSFER: 2, REQUESTED: 2}),
                         replays=lambda: deadline_check("2025-04-05"))
    self_funded = remittance_id("150200", "2025-03", 0)
    treasury = remittance_id("150100", "2025-03", 0)
    assert {(r["remittance_id"], r["amount"], r["sequence"], r["due_on"], r["requested_on"])
            for r in of_type(fresh, REQUESTED)} == {
        (self_funded, "1428.84", 0, "2025-04-15", "2025-04-05"),
        (treasury, "196.28", 0, "2025-04-15", "2025-04-05")}  # the notional unit share stays
    transfer = {t["request_id"]: t for t in of_type(fresh, TRANSFER)}[self_funded]
    assert transfer == {
        "request_id": self_funded, "purpose": "annuity_remittance",
        "fund": "occupational_annuity", "period": "2025-03", "amount": "1428.84",
        "source": {"entity_code": "150200", "kind": "annuity_collection"},
        "target": {"entity_code": "150000", "kind": "annuity_collection"},
        "due_on": "2025-04-15"}
    notices = notice_settled(self_funded, "150200", "annuity_remittance", "1428.84",
                             "2025-04-14") + notice_failed(treasury, "150100", "196.28")
    fresh = await h.step(notices, Counter({COMPLETED: 1}), replays=lambda: notice_settled(
        self_funded, "150200", "annuity_remittance", "1428.84", "2025-04-14"))
    assert of_type(fresh, COMPLETED)[0]["on_time"] is True
    fresh = await h.step(deadline_check("2025-04-16"), Counter({OVERDUE: 1}),
                         replays=lambda: deadline_check("2025-04-16"))
    assert of_type(fresh, OVERDUE) == [{
        "remittance_id": treasury, "fiscal_entity_code": "150100", "fee_period": "2025-03",
        "amount": "196.28", "due_on": "2025-04-15", "as_of": "2025-04-16"}]


async def remit_late_credits_in_a_supplementary_remittance(h: Harness) -> None:
    late = registered(run_id("D5"), "150200", "2025-03", "self", [(DAVE, 300_000)])
    await h.step(declared_and_paid(late), Counter({CREDITED: 1}))
    fresh = await h.step(deadline_check("2025-04-20"),
                         Counter({TRANSFER: 1, REQUESTED: 1, OVERDUE: 2}),
                         replays=lambda: deadline_check("2025-04-20"))
    supplementary = remittance_id("150200", "2025-03", 1)
    assert [(r["remittance_id"], r["sequence"], r["amount"])
            for r in of_type(fresh, REQUESTED)] == [(supplementary, 1, "360.00")]
    assert {o["remittance_id"] for o in of_type(fresh, OVERDUE)} == {
        supplementary, remittance_id("150100", "2025-03", 0)}
    fresh = await h.step(
        notice_settled(supplementary, "150200", "annuity_remittance", "360.00", "2025-04-22"),
        Counter({COMPLETED: 1}))
    assert of_type(fresh, COMPLETED)[0]["on_time"] is False


async def assess_fund_and_allocate_the_pre_2020_backlog(h: Harness) -> None:
    backlog = [
        registered(run_id("D6"), "150300", "2019-11", "self", [(ALICE, 490_700), (BOB, 600_000)]),
        registered(run_id("D7"), "150300", "2019-11", "self", [(ALICE, 300_000)]),
        registered(run_id("D8"), "150300", "2015-12", "self", [(CAROL, 500_000)]),
        registered(run_id("D9"), "150500", "2019-12", "treasury_full", [(DAVE, 500_000)]),
    ]
    await h.step([r for d in backlog for r in declared_and_paid(d)], Counter({CREDITED: 4}))
    fresh = await h.step(deadline_check("2025-06-01"),
                         Counter({TRANSFER: 7, REQUESTED: 4, ASSESSED: 3, OVERDUE: 5}),
                         replays=lambda: deadline_check("2025-06-01"))
    assessed = {(a["fiscal_entity_code"], a["fee_period"]): a for a in of_type(fresh, ASSESSED)}
    # Hand-computed in tests/unit/occupational_annuity/test_topup.py's manner:
    # 2019-11: ALICE 948.84 and BOB 720.00 x (4.20% x 31 + 4.00% x 91) / 365
    #          = 1284.70 + 974.86 fen -> total 22.60, split 12.85 / 9.75
    # 2015-12: CAROL 600.00 x (4.8%x366 + 4.6%x365 + 4.4%x365 + 4.2%x365 + 4.0%x91)/365 = 114.06
    # 2019-12: DAVE's funded 200.00 (his unit share is notional) x 4% x 91 / 365 = 1.99
    assert assessed[("150300", "2019-11")]["members"] == [
        {"person_id": ALICE, "principal": "948.84", "interest": "12.85"},
        {"person_id": BOB, "principal": "720.00", "interest": "9.75"}]
    assert assessed[("150300", "2019-11")]["total"] == "22.60"
    assert assessed[("150300", "2015-12")]["total"] == "114.06"
    assert assessed[("150500", "2019-12")]["total"] == "1.99"
    assert assessed[("150300", "2019-11")]["interest_from"] == "2019-12-01"
    assert {a["interest_to"] for a in assessed.values()} == {"2020-04-01"}
    topups = {t["request_id"]: t for t in of_type(fresh, TRANSFER)
              if t["purpose"] == "annuity_interest_topup"}
    first = topup_assessment_id("150300", "2019-11", 0)
    assert topups[first]["source"] == {"entity_code": "150300", "kind": "special"}
    assert topups[first]["due_on"] == "2025-07-01"
    await fund(h, [(a["assessment_id"], a["fiscal_entity_code"], a["total"])
                   for a in assessed.values()])
    await assess_a_late_credit_supplementarily(h)


async def fund(h: Harness, assessments: list[tuple[str, str, str]]) -> None:
    def notices() -> Records:
        return [r for assessment_id, entity, total in assessments
                for r in notice_settled(assessment_id, entity, "annuity_interest_topup", total,
                                        "2025-06-10")]

    fresh = await h.step(notices(), Counter({ALLOCATED: len(assessments)}), replays=notices)
    for allocated in of_type(fresh, ALLOCATED):
        assert sum(parse_yuan(a["amount"]) for a in allocated["allocations"]) == parse_yuan(
            allocated["amount_funded"])


async def assess_a_late_credit_supplementarily(h: Harness) -> None:
    late = registered(run_id("D10"), "150300", "2019-11", "self", [(CAROL, 300_000)])
    await h.step(declared_and_paid(late), Counter({CREDITED: 1}))
    # Open past due on 2025-06-05: 150100 2025-03, 150200 2025-04, 150300 2015-12 and 2019-11
    # (both sequences), 150500 2019-12.
    fresh = await h.step(deadline_check("2025-06-05"),
                         Counter({TRANSFER: 2, REQUESTED: 1, ASSESSED: 1, OVERDUE: 6}),
                         replays=lambda: deadline_check("2025-06-05"))
    [assessment] = of_type(fresh, ASSESSED)
    # Only the later credit: CAROL 360.00 x (4.20% x 31 + 4.00% x 91) / 365 = 4.8743 -> 4.87
    assert (assessment["assessment_id"], assessment["sequence"], assessment["total"]) == (
        topup_assessment_id("150300", "2019-11", 1), 1, "4.87")
    assert assessment["members"] == [
        {"person_id": CAROL, "principal": "360.00", "interest": "4.87"}]
    await fund(h, [(assessment["assessment_id"], "150300", "4.87")])


async def post_notional_interest_once_per_year(h: Harness) -> None:
    # DAVE's notional 400.00 of 2019-12 at 150500: 2020 x 4.00% = 16.00; 2021 earns on
    # 416.00 x 3.80% = 15.808 -> 15.81. CAROL's 2025-03 notional money is too recent for both.
    fresh = await h.step(notional(2020), Counter({POSTED: 1}), replays=lambda: notional(2020))
    assert [(p["fiscal_entity_code"], p["rate"], p["member_count"], p["total"])
            for p in of_type(fresh, POSTED)] == [("150500", "0.0400", 1, "16.00")]
    fresh = await h.step(notional(2021), Counter({POSTED: 1}))
    assert of_type(fresh, POSTED)[0]["total"] == "15.81"
    await h.step(notional(2021), Counter())  # a second request for the year posts nothing
    fresh = await h.step(notional(2031), Counter({REFUSED: 1}))
    assert of_type(fresh, REFUSED)[0]["reason"] == "RATE_NOT_CONFIGURED"
    fresh = await h.step(deadline_check("2025-02-30"), Counter({REJECTED: 1}))
    assert of_type(fresh, REJECTED)[0]["reasons"][0]["code"] == "DATE_INVALID"
    await answer_a_reused_command_event_id(h)


async def answer_a_reused_command_event_id(h: Harness) -> None:
    event_id = run_id("E")
    fresh = await h.step(command_with_event_id(event_id, "ops.notional_interest.requested.v1",
                                               year=2022), Counter({POSTED: 1}))
    assert of_type(fresh, POSTED)[0]["total"] == "15.55"  # 431.81 x 3.60% = 15.545 -> 15.55
    # The same CloudEvent id with other content is not run: it is answered as a conflict. The
    # layer answers each conflicting record, so this step is not replayed.
    fresh = await h.step(command_with_event_id(event_id, "ops.notional_interest.requested.v1",
                                               year=2023), Counter({REJECTED: 1}), replay_count=0)
    [rejection] = of_type(fresh, REJECTED)
    assert (rejection["service"], rejection["reasons"][0]["code"]) == (
        "occupational_annuity", "CONFLICTING_DUPLICATE")


async def check_the_books(h: Harness) -> None:
    ledger = await h.read_all("annuity.ledger")
    await check_collected_is_remitted_plus_pending(h, ledger)
    await check_balances_are_their_entries(h, ledger)
    await check_topup_allocations_are_the_funded_amounts(h, ledger)


def ledger_data(ledger: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in ledger if e["type"] == event_type]


async def check_collected_is_remitted_plus_pending(
    h: Harness, ledger: list[dict[str, Any]]
) -> None:
    """Per (entity, period): collected (journal, events, account) = remitted + pending."""
    journal = {(r[0], r[1]): r[2] for r in await h.db.fetch(
        "SELECT fiscal_entity_code, fee_period, sum(amount_fen) FROM entry"
        " WHERE source_kind = 'contribution' AND sub_ledger IN ('individual_real', 'unit_real')"
        " GROUP BY 1, 2")}
    from_events: Counter[tuple[str, str]] = Counter()
    for c in ledger_data(ledger, CREDITED):
        from_events[(c["fiscal_entity_code"], c["fee_period"])] += (
            parse_yuan(c["individual_real_total"]) + parse_yuan(c["unit_real_total"]))
    remitted: Counter[tuple[str, str]] = Counter()
    for r in ledger_data(ledger, REQUESTED):
        remitted[(r["fiscal_entity_code"], r["fee_period"])] += parse_yuan(r["amount"])
    accounts = await h.db.fetch("SELECT * FROM period_account")
    assert len(accounts) == len(journal) == 7
    for row in accounts:
        key = (row["fiscal_entity_code"], row["fee_period"])
        pending = row["collected_fen"] - row["requested_fen"]
        assert row["collected_fen"] == journal[key] == from_events[key], key
        assert row["collected_fen"] == remitted[key] + pending, key
        # Every request day has passed by the last check; the region itself remits nothing.
        assert pending == (row["collected_fen"] if key[0] == "150000" else 0), key
    assert remitted[("150000", "2025-03")] == 0


async def check_balances_are_their_entries(h: Harness, ledger: list[dict[str, Any]]) -> None:
    """Each member's balances are the sums of their entries, and those match the events."""
    mismatched = await h.db.fetch(
        "SELECT b.person_id FROM member_balance b JOIN ("
        "  SELECT person_id, sum(amount_fen) FILTER (WHERE sub_ledger = 'individual_real') i,"
        "   sum(amount_fen) FILTER (WHERE sub_ledger = 'unit_real') u,"
        "   sum(amount_fen) FILTER (WHERE sub_ledger = 'unit_notional') n,"
        "   sum(amount_fen) FILTER (WHERE sub_ledger = 'interest_topup') t"
        "  FROM entry GROUP BY person_id) e USING (person_id)"
        " WHERE (b.individual_real_fen, b.unit_real_fen, b.unit_notional_fen,"
        "        b.interest_topup_fen)"
        "   IS DISTINCT FROM (coalesce(e.i, 0), coalesce(e.u, 0), coalesce(e.n, 0),"
        "                     coalesce(e.t, 0))")
    assert mismatched == []
    balances = {r["person_id"]: r for r in await h.db.fetch("SELECT * FROM member_balance")}
    assert set(balances) == {ALICE, BOB, CAROL, DAVE}
    expected: Counter[str] = Counter()
    for credit in ledger_data(ledger, CREDITED):
        for member in credit["credits"]:
            for sub_ledger in ("individual_real", "unit_real", "unit_notional"):
                expected[f"{member['person_id']}/{sub_ledger}"] += parse_yuan(member[sub_ledger])
    for allocated in ledger_data(ledger, ALLOCATED):
        for allocation in allocated["allocations"]:
            expected[f"{allocation['person_id']}/interest_topup"] += parse_yuan(
                allocation["amount"])
    expected[f"{DAVE}/unit_notional"] += sum(
        parse_yuan(p["total"]) for p in ledger_data(ledger, POSTED))  # his alone at 150500
    for person, row in balances.items():
        for sub_ledger in ("individual_real", "unit_real", "unit_notional", "interest_topup"):
            assert row[f"{sub_ledger}_fen"] == expected[f"{person}/{sub_ledger}"], (
                person[:4], sub_ledger)
    # DAVE: 196.28 (region unit) + 120.00 (late 2025-03 credit) + 200.00 (2019-12) individual;
    # 400.00 + 16.00 + 15.81 + 15.55 notional; 1.99 top-up.
    dave = balances[DAVE]
    assert (dave["individual_real_fen"], dave["unit_notional_fen"],
            dave["interest_topup_fen"]) == (51_628, 44_736, 199)


async def check_topup_allocations_are_the_funded_amounts(
    h: Harness, ledger: list[dict[str, Any]]
) -> None:
    allocated = {a["assessment_id"]: a for a in ledger_data(ledger, ALLOCATED)}
    rows = await h.db.fetch(
        "SELECT a.assessment_id, a.total_fen, a.status, coalesce(sum(e.amount_fen), 0) AS booked"
        " FROM topup_assessment a LEFT JOIN entry e"
        "   ON e.source_kind = 'interest_topup' AND e.source_id = a.assessment_id"
        " GROUP BY a.assessment_id, a.total_fen, a.status")
    assert len(rows) == len(allocated) == 4
    for row in rows:
        event = allocated[row["assessment_id"]]
        assert row["status"] == "allocated"
        assert row["booked"] == row["total_fen"] == parse_yuan(event["amount_funded"]) == sum(
            parse_yuan(a["amount"]) for a in event["allocations"])
    assert await h.db.fetchval(
        "SELECT count(*) FROM credit WHERE topup_state = 'pending'") == 0


async def test_a_credits_event_ids_do_not_depend_on_which_collection_event_came_last() -> None:
    """collection settles a payment that waited for its declaration with the declaration's event,
    so which of its events triggers a credit depends on how it interleaved two topics; the
    credit and the uncredited report must come out with the same ids either way."""
    declaration = registered(run_id("D"), "150200", "2025-03", "treasury_full",
                             [(ALICE, 490_700)])
    short = settled(declaration, "P-SHORT-1", 10_000)
    rest = settled(declaration, "P-REST-1", amount_due(declaration) - 10_000,
                   amount_due(declaration))
    outputs: list[list[tuple[str, str]]] = []

    async def once(h: Harness) -> None:
        # Fresh CloudEvent ids each run, as another interleaving in collection would give.
        records = collection_records((REGISTERED, declaration), (SETTLED, short),
                                     (SETTLED, rest))
        fresh = await h.step(records, Counter({CREDITED: 1, UNCREDITED: 1}), replay_count=0)
        outputs.append(sorted((e["id"], e["type"]) for e in fresh))

    await run(once)
    await run(once)
    assert outputs[0] == outputs[1]


async def test_a_batch_publishes_what_it_causes_in_the_order_of_the_causes() -> None:
    """Where a batch ends must not change the ledger: a declaration paid in full, then another
    left short, handled in one batch, publish the credit before the shortfall, as two batches
    would (a replay of the month compares the two; the credits used to wait for the batch's
    end), and the credit carries the payment that paid it as its cause."""
    namespace = await create_namespace()
    paid = registered(run_id("D"), "150200", "2025-03", "self", [(CAROL, 500_000)])
    short = registered(run_id("D"), "150200", "2025-03", "self", [(BOB, 600_000)])
    records = collection_records(
        ("collection.declaration.registered.v1", paid),
        ("collection.contribution.settled.v1", settled(paid, run_id("P"), amount_due(paid))),
        ("collection.declaration.registered.v1", short),
        ("collection.contribution.settled.v1",
         settled(short, run_id("P"), amount_due(short) - 100)))
    # All four (one key, one partition) before the service starts: they come in one batch.
    await publish_records(namespace, records)
    async with service_running(app.spec(), namespace):
        ledger = await read_topic(f"{namespace}.annuity.ledger", until=lambda got: len(got) >= 2)
    assert [(r.event["type"], r.event["data"]["declaration_id"]) for r in ledger] == [
        ("annuity.contribution.credited.v1", paid["declaration_id"]),
        ("annuity.contribution.uncredited.v1", short["declaration_id"])]
    paying_event_id = json.loads(records[1][2] or b"")["id"]
    assert ledger[0].event["correlationid"] == paying_event_id
