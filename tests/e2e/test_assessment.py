"""The assessment (考核) on the real broker and database: one `ops.assessment.requested.v1` and
each service answers with its figures per league/city, from what it has registered, forwarded
and remitted (policy 二(一)1, 二(二)4; docs/contracts.md "Assessment")."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from services.collection import app as collection_app
from services.fund_transfer import app as fund_transfer_app
from services.occupational_annuity.app import spec as annuity_spec
from shared.cli.entities import LEAGUES_AND_CITIES
from shared.contracts import assessment, collection, finance, transfer
from shared.contracts.export import event_models
from shared.ids import notice_id_for_appropriation, remittance_id
from shared.money import format_yuan, parse_yuan
from tests.e2e.annuity_support import (
    ALICE,
    CAROL,
    amount_due,
    declared_and_paid,
    publish_records,
    registered,
    run_id,
)
from tests.e2e.test_occupational_annuity import deadline_check, notice_settled
from tests.support import (
    cloudevent,
    connect_db,
    create_namespace,
    publish,
    read_topic,
    service_running,
    wait_for,
)
from tests.unit.collection import factory

pytestmark = pytest.mark.usefixtures("stack_env")
Event = dict[str, Any]
_YEARS = itertools.count(random.randrange(2100, 2190))  # a budget year no other run here uses


async def request(namespace: str, period: str, as_of: str, command_id: str | None = None) -> str:
    command_id = command_id or run_id("A")
    value = cloudevent(assessment.ASSESSMENT_REQUESTED,
                       {"command_id": command_id, "period": period, "as_of": as_of},
                       source="/ops/cli")
    await publish(f"{namespace}.ops.commands", [(b"all", value)])
    return command_id


async def events_of(namespace: str, topic: str, match: Callable[[Event], bool],
                    count: int) -> list[Event]:
    """The first `count` events on a topic of the namespace that `match`, each validated
    against its contract."""
    def matching(records: list[Any]) -> list[Event]:
        return [r.event for r in records if match(r.event)]

    found = matching(await read_topic(f"{namespace}.{topic}", timeout_s=60,
                                      until=lambda recs: len(matching(recs)) >= count))
    assert len(found) >= count, (topic, count, found)
    for event in found:
        event_models()[event["type"]].model_validate(event["data"])
    return found


async def applied(namespace: str, settlements: int) -> None:
    async def done() -> bool:
        conn = await connect_db(f"fund_transfer_{namespace}")
        try:
            return bool(await conn.fetchval("SELECT count(*) FROM settlement") >= settlements)
        finally:
            await conn.close()

    await wait_for(done, what=f"{settlements} settlements applied")


def assessed(event_type: str, command_id: str) -> Callable[[Event], bool]:
    return lambda e: e["type"] == event_type and e["data"]["command_id"] == command_id


def by_entity(events: list[Event]) -> dict[str, Event]:
    data = {e["data"]["fiscal_entity_code"]: e["data"] for e in events}
    assert len(data) == len(events), "one event per fiscal entity"
    return data


async def test_collection_assesses_payment_on_time_money_and_annuity_coverage() -> None:
    namespace = await create_namespace()
    period = "2025-03"  # due 2025-03-20
    staff_uscc = factory.uscc()
    basic = factory.declaration(scheme="institution_basic", bases=("6000.00", "7000.00"),
                                employer_uscc=staff_uscc, region_code="150102")
    covered = basic["lines"][0]["person_id"]
    annuity_line = factory.line(1, "6000.00", "occupational_annuity", person_id=covered)
    annuity_filing = factory.declaration(scheme="occupational_annuity", employer_uscc=staff_uscc,
                                         region_code="150102") | {"lines": [annuity_line]}
    unpaid = factory.declaration(region_code="150102")
    elsewhere = factory.declaration(region_code="150202")  # Baotou, paid on time
    async with service_running(collection_app.spec(), namespace):
        for data in (basic, annuity_filing, unpaid, elsewhere):
            await publish(f"{namespace}.tax.contribution.declarations",
                          [(data["employer_uscc"].encode(),
                            cloudevent("tax.contribution.declared.v1", data))])
        registrations = await events_of(
            namespace, "collection.declarations",
            lambda e: e["type"] == collection.REGISTERED, 4)
        due_fen = {e["data"]["declaration_id"]: parse_yuan(e["data"]["amount_due"])
                   for e in registrations}
        payments = ((basic, "2025-03-18"), (annuity_filing, "2025-03-25"),
                    (elsewhere, "2025-03-19"))
        for data, paid_on in payments:
            payment = factory.payment(data["declaration_id"],
                                      format_yuan(due_fen[data["declaration_id"]]),
                                      paid_on=paid_on)
            await publish(f"{namespace}.tax.contribution.payments",
                          [(data["employer_uscc"].encode(),
                            cloudevent("tax.contribution.paid.v1", payment))])
        settlements = await events_of(namespace, "collection.declarations",
                                      lambda e: e["type"] == collection.SETTLED, 3)
        late_fee_fen = sum(parse_yuan(e["data"]["late_fee_due"]) for e in settlements)
        assert late_fee_fen > 0  # the annuity filing was paid five days late

        command_id = await request(namespace, period, "2025-03-31")
        answers = by_entity(await events_of(
            namespace, "collection.declarations",
            assessed(assessment.COLLECTION_ASSESSED, command_id), 2))
        bad_period = await request(namespace, "2025-13", "2025-03-31")
        [rejection] = await events_of(
            namespace, "ops.commands",
            lambda e: e["type"] == "ops.command.rejected.v1"
            and e["data"]["command_id"] == bad_period, 1)

    hohhot = answers["150100"]
    hohhot_due = sum(due_fen[d["declaration_id"]] for d in (basic, annuity_filing, unpaid))
    hohhot_paid = due_fen[basic["declaration_id"]] + due_fen[annuity_filing["declaration_id"]]
    assert hohhot == hohhot | {
        "period": period, "as_of": "2025-03-31",
        "declarations_registered": 3, "declarations_paid_on_time": 1,
        "share_paid_on_time_bp": 3333,  # 1 of 3, rounded down
        "amount_due": format_yuan(hohhot_due), "amount_paid": format_yuan(hohhot_paid),
        "amount_outstanding": format_yuan(due_fen[unpaid["declaration_id"]]),
        "late_fees": format_yuan(late_fee_fen), "annuity_base_findings_open": 0,
        "institution_members": 2, "institution_members_without_annuity": 1,
    }
    assert (answers["150200"]["declarations_paid_on_time"],
            answers["150200"]["share_paid_on_time_bp"], answers["150200"]["amount_outstanding"],
            answers["150200"]["institution_members"]) == (1, 10_000, "0.00", 0)
    assert {r["code"] for r in rejection["data"]["reasons"]} == {"PERIOD_INVALID"}
    assert rejection["data"]["service"] == "collection"


async def test_fund_transfer_assesses_every_league_and_city_with_its_gaps() -> None:
    namespace = await create_namespace()
    year = next(_YEARS)
    period = f"{year}-01"
    fund = "enterprise_basic_pension"

    async def send(topic: str, event_type: str, data: Event, entity: str) -> None:
        await publish(f"{namespace}.{topic}", [(entity.encode(), cloudevent(
            event_type, data, source=f"/finance/{entity}"))])

    def appropriation(entity: str, amount: str) -> Event:
        return {"appropriation_id": run_id("A"), "fiscal_entity_code": entity, "fund": fund,
                "period": period, "amount_due": amount, "due_on": f"{period}-28",
                "document_no": f"财社〔{year}〕1号"}

    in_full, short = appropriation("150200", "100.00"), appropriation("150300", "50.00")
    async with service_running(fund_transfer_app.spec(), namespace):
        for entity, amount in (("150200", "100.00"), ("150400", "80.00"),
                               ("150300", "40.00")):
            await send(finance.TOPIC_BUDGETS, finance.BUDGETED, {
                "budget_id": run_id("B"), "revision": 0, "fiscal_entity_code": entity,
                "fund": fund, "year": year, "amount_per_month": amount,
                "document_no": f"内财社〔{year}〕9号"}, entity)
        for data in (in_full, short):
            await send(finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED, data,
                       data["fiscal_entity_code"])
        await events_of(namespace, "transfer.notices",
                        lambda e: e["type"] == transfer.NOTICE_ISSUED, 2)
        for data, amount, on in ((in_full, "100.00", f"{period}-20"),
                                 (short, "30.00", f"{period}-27")):
            await send(finance.TOPIC_SETTLEMENTS, finance.SETTLED, {
                "settlement_id": run_id("S"),
                "notice_id": notice_id_for_appropriation(data["appropriation_id"], 0),
                "amount_settled": amount, "value_date": on, "bank_reference": run_id("BR")},
                data["fiscal_entity_code"])
        await applied(namespace, settlements=2)  # a part settlement publishes nothing
        command_id = await request(namespace, period, f"{year}-02-20")
        answers = by_entity(await events_of(
            namespace, "transfer.obligations",
            assessed(assessment.TRANSFER_ASSESSED, command_id), len(LEAGUES_AND_CITIES)))

    assert set(answers) == set(LEAGUES_AND_CITIES)  # every one, appropriated or not
    assert answers["150200"] == answers["150200"] | {
        "obligations": 1, "forwarded_in_full": 1, "forwarded_on_time": 1,
        "share_forwarded_on_time_bp": 10_000, "amount_due": "100.00",
        "amount_settled": "100.00", "amount_short": "0.00", "shortfall_days_open": 0,
        "appropriations_missing": 0, "appropriations_below_budget": 0}
    # 30.00 of 50.00 settled: short 20.00, open from its due date (01-28) to 02-20: 23 days;
    # and 50.00 is not below its budget of 40.00.
    assert answers["150300"] == answers["150300"] | {
        "obligations": 1, "forwarded_in_full": 0, "forwarded_on_time": 0,
        "share_forwarded_on_time_bp": 0, "amount_due": "50.00", "amount_settled": "30.00",
        "amount_short": "20.00", "shortfall_days_open": 23, "appropriations_missing": 0,
        "appropriations_below_budget": 0}
    assert answers["150400"] == answers["150400"] | {
        "obligations": 0, "amount_due": "0.00", "appropriations_missing": 1,
        "appropriations_below_budget": 0}
    assert answers["150500"] == answers["150500"] | {"obligations": 0, "appropriations_missing": 0}


async def test_the_annuity_assesses_remittances_on_time_and_overdue() -> None:
    namespace = await create_namespace()
    self_funded = registered(run_id("D"), "150200", "2025-03", "self", [(ALICE, 490_700)])
    treasury = registered(run_id("D"), "150100", "2025-03", "treasury_full", [(CAROL, 490_700)])
    async with service_running(annuity_spec(), namespace):
        await publish_records(namespace, declared_and_paid(self_funded)
                              + declared_and_paid(treasury) + deadline_check("2025-04-05"))
        requested = await events_of(namespace, "annuity.ledger",
                                    lambda e: e["type"] == "annuity.remittance.requested.v1", 2)
        amounts = {e["data"]["fiscal_entity_code"]: e["data"]["amount"] for e in requested}
        await publish_records(namespace, notice_settled(
            remittance_id("150200", "2025-03", 0), "150200", "annuity_remittance",
            amounts["150200"], "2025-04-14"))
        await events_of(namespace, "annuity.ledger",
                        lambda e: e["type"] == "annuity.remittance.completed.v1", 1)
        before_due = await request(namespace, "2025-03", "2025-04-10")
        after_due = await request(namespace, "2025-03", "2025-04-20")
        answers = {command_id: by_entity(await events_of(
            namespace, "annuity.ledger", assessed(assessment.ANNUITY_ASSESSED, command_id), 2))
            for command_id in (before_due, after_due)}

    assert parse_yuan(amounts["150200"]) == amount_due(self_funded)
    later = answers[after_due]
    assert later["150200"] == later["150200"] | {
        "remittances_requested": 1, "remittances_on_time": 1, "remittances_overdue": 0,
        "amount_remitted": amounts["150200"], "topups_assessed": 0, "topups_funded": 0}
    assert later["150100"] == later["150100"] | {
        "remittances_requested": 1, "remittances_on_time": 0, "remittances_overdue": 1,
        "amount_remitted": "0.00"}
    # As of 04-10 the settlement of 04-14 had not happened and nothing was due yet.
    earlier = answers[before_due]
    assert [(earlier[e]["remittances_on_time"], earlier[e]["remittances_overdue"],
             earlier[e]["amount_remitted"]) for e in ("150100", "150200")] == [
        (0, 0, "0.00"), (0, 0, "0.00")]
