"""Annuity money requested from fund_transfer, on the real broker and database with both services
running: remittances, top-ups, 做实 fundings and 补记 back-credits complete when the money settled
over all notices of their request reaches its amount (a notice partly settled, then failed, and
its replacement for the remainder together); retirements and commands fund each member once;
bad personnel events are rejected with every reason."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shared.cli import main
from shared.contracts import annuity, transfer
from shared.ids import (
    backcredit_request_id,
    notice_id_for_request,
    notional_funding_id,
    remittance_id,
    topup_assessment_id,
)
from shared.money import format_yuan, parse_yuan
from tests.e2e.annuity_support import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    EVE,
    USCC,
    System,
    amount_due,
    backcredited,
    declared_and_paid,
    of_type,
    registered,
    retired,
    run_id,
    running_system,
)

pytestmark = pytest.mark.usefixtures("stack_env")

DEADLINE_CHECK = "ops.deadline_check.requested.v1"
FUNDING_COMMAND = "ops.annuity_funding.requested.v1"
REJECTED = "annuity.hr_event.rejected.v1"


async def test_a_remittance_partly_settled_then_failed_completes_when_the_remainder_settles(
) -> None:
    declaration = registered(run_id("D"), "150200", "2025-03", "self", [(ALICE, 490_700)])
    total_fen = amount_due(declaration)  # 588.84: 392.56 unit + 196.28 individual
    request_id = remittance_id("150200", "2025-03", 0)
    first, replacement = (notice_id_for_request(request_id, n) for n in (0, 1))
    async with running_system() as system:
        await system.publish(declared_and_paid(declaration))
        await system.command(DEADLINE_CHECK, as_of="2025-04-05")
        await system.quiet()
        issued = of_type(await system.events(transfer.TOPIC_NOTICES), transfer.NOTICE_ISSUED)
        assert [(n["notice_id"], n["amount"]) for n in issued] == [(first, "588.84")]
        await system.settle("150200", first, 30_000, "2025-04-08")
        await system.fail("150200", first, "2025-04-09")
        await system.quiet()
        notices = await system.events(transfer.TOPIC_NOTICES)
        [failed] = of_type(notices, transfer.NOTICE_FAILED)
        assert (failed["amount_settled"], failed["replaced_by"]) == ("300.00", replacement)
        assert of_type(notices, transfer.NOTICE_ISSUED)[-1]["amount"] == format_yuan(
            total_fen - 30_000)
        await system.settle("150200", replacement, total_fen - 30_000, "2025-04-12")
        await system.quiet()
        ledger = await system.events("annuity.ledger")
    assert of_type(ledger, annuity.REMITTANCE_COMPLETED) == [{
        "remittance_id": request_id, "fiscal_entity_code": "150200", "fee_period": "2025-03",
        "notice_id": replacement, "amount": "588.84", "value_date": "2025-04-12",
        "on_time": True}]


# ---- every purpose: partly settled, failed, replaced, completed ------------------------------


@dataclass(frozen=True)
class Purpose:
    """How to make the annuity service ask for money of one purpose, and what completes it."""

    name: str
    entity: str
    request_id: str
    completed_type: str
    start: Callable[[System], Awaitable[None]]


async def _topup(system: System) -> None:
    backlog = registered(run_id("D"), "150300", "2019-11", "self", [(ALICE, 490_700)])
    await system.publish(declared_and_paid(backlog))
    await system.command(DEADLINE_CHECK, as_of="2025-06-01")


async def _funding(system: System) -> None:
    await system.publish(declared_and_paid(
        registered(run_id("D"), "150400", "2025-03", "treasury_full", [(BOB, 800_000)])))
    await system.quiet()
    await system.publish(retired(BOB, "150400", "2025-04-20", retirement_id="R-BOB-150400"))


async def _backcredit(system: System) -> None:
    await system.publish(declared_and_paid(
        registered(run_id("D"), "150500", "2025-03", "self", [(CAROL, 490_700)])))
    await system.quiet()
    await system.publish(backcredited(CAROL, "150500", "12345.67", "2025-04-18",
                                      backcredit_id="B-CAROL-1"))


async def _remittance(system: System) -> None:
    await system.publish(declared_and_paid(
        registered(run_id("D"), "150600", "2025-03", "self", [(DAVE, 600_000)])))
    await system.command(DEADLINE_CHECK, as_of="2025-04-06")


PURPOSES = [
    Purpose("annuity_remittance", "150600", remittance_id("150600", "2025-03", 0),
            annuity.REMITTANCE_COMPLETED, _remittance),
    Purpose("annuity_interest_topup", "150300", topup_assessment_id("150300", "2019-11", 0),
            annuity.INTEREST_TOPUP_ALLOCATED, _topup),
    Purpose("annuity_notional_funding", "150400",
            notional_funding_id("150400", "retirement", "R-BOB-150400"),
            annuity.NOTIONAL_FUNDING_COMPLETED, _funding),
    Purpose("annuity_backcredit", "150500", backcredit_request_id("150500", "B-CAROL-1"),
            annuity.BACKCREDIT_COMPLETED, _backcredit),
]


@pytest.mark.parametrize("purpose", PURPOSES, ids=[p.name for p in PURPOSES])
async def test_a_notice_partly_settled_failed_and_replaced_completes_its_request(
        purpose: Purpose) -> None:
    first, replacement = (notice_id_for_request(purpose.request_id, n) for n in (0, 1))
    async with running_system() as system:
        await purpose.start(system)
        await system.quiet()
        [notice] = [n for n in of_type(await system.events(transfer.TOPIC_NOTICES),
                                       transfer.NOTICE_ISSUED) if n["notice_id"] == first]
        assert notice["purpose"] == purpose.name
        amount_fen = parse_yuan(notice["amount"])
        part_fen = amount_fen // 3
        await system.settle(purpose.entity, first, part_fen, "2025-06-20")
        await system.quiet()
        assert of_type(await system.events("annuity.ledger"), purpose.completed_type) == []
        await system.fail(purpose.entity, first, "2025-06-21")
        await system.quiet()
        await system.settle(purpose.entity, replacement, amount_fen - part_fen, "2025-06-25")
        await system.quiet()
        ledger = await system.events("annuity.ledger")
    [completed] = of_type(ledger, purpose.completed_type)
    assert completed["notice_id"] == replacement
    assert parse_yuan(completed.get("amount") or completed["amount_funded"]) == amount_fen


# ---- 做实 on retirement and by command -------------------------------------------------------


async def test_a_retirement_funds_the_notional_balance_once_and_completion_moves_it() -> None:
    entity = "150100"
    notional = registered(run_id("D"), entity, "2025-03", "treasury_full",
                          [(CAROL, 490_700), (DAVE, 600_000)])
    old = registered(run_id("D"), entity, "2024-06", "treasury_full", [(CAROL, 300_000)])
    funding_id = notional_funding_id(entity, "retirement", "R-CAROL-1")
    async with running_system() as system:
        await system.publish(declared_and_paid(notional) + declared_and_paid(old))
        await system.quiet()
        retirement = retired(CAROL, entity, "2025-04-20", retirement_id="R-CAROL-1")
        await system.publish(retirement + retirement)  # the same event twice
        await system.quiet()
        ledger, requests = await system.events("annuity.ledger"), await system.events(
            transfer.TOPIC_REQUESTS)
        [requested] = of_type(ledger, annuity.NOTIONAL_FUNDING_REQUESTED)
        # CAROL's unit notional: 392.56 (2025-03) + 240.00 (2024-06); DAVE does not retire.
        assert requested == {
            "funding_id": funding_id, "fiscal_entity_code": entity, "cause": "retirement",
            "cause_id": "R-CAROL-1", "as_of": "2025-04-20",
            "members": [{"person_id": CAROL, "amount": "632.56"}], "total": "632.56",
            "due_on": "2025-05-20"}
        [asked] = [r for r in of_type(requests, transfer.REQUESTED)
                   if r["request_id"] == funding_id]
        assert asked == {
            "request_id": funding_id, "purpose": "annuity_notional_funding",
            "fund": "occupational_annuity", "period": "2025-04", "amount": "632.56",
            "source": {"entity_code": entity, "kind": "special"},
            "target": {"entity_code": "150000", "kind": "annuity_collection"},
            "due_on": "2025-05-20"}
        before = await system.balances(CAROL)
        await system.publish(retired(CAROL, entity, "2025-04-21"))  # another retirement event
        await system.command(FUNDING_COMMAND, fiscal_entity_code=entity, as_of="2025-04-25")
        await system.settle(entity, notice_id_for_request(funding_id, 0), 63_256, "2025-05-08")
        await system.quiet()
        ledger = await system.events("annuity.ledger")
        after = await system.balances(CAROL)
    fundings = of_type(ledger, annuity.NOTIONAL_FUNDING_REQUESTED)
    assert [f["members"] for f in fundings] == [  # the command funds DAVE only
        [{"person_id": CAROL, "amount": "632.56"}], [{"person_id": DAVE, "amount": "480.00"}]]
    assert of_type(ledger, annuity.NOTIONAL_FUNDING_COMPLETED) == [{
        "funding_id": funding_id, "fiscal_entity_code": entity, "amount": "632.56",
        "value_date": "2025-05-08", "notice_id": notice_id_for_request(funding_id, 0),
        "member_count": 1}]
    assert (before["unit_notional"], before["unit_real"]) == (63_256, 0)
    assert (after["unit_notional"], after["unit_real"]) == (0, 63_256)  # moved, not created
    assert after["individual_real"] == before["individual_real"]


async def test_a_command_funds_every_member_not_yet_funded_and_nothing_when_none_is_left(
) -> None:
    entity = "152500"
    members = registered(run_id("D"), entity, "2025-02", "treasury_full",
                         [(ALICE, 500_000), (BOB, 500_000)])
    self_funded = registered(run_id("D"), entity, "2025-02", "self", [(EVE, 500_000)])
    async with running_system() as system:
        await system.publish(declared_and_paid(members) + declared_and_paid(self_funded))
        await system.quiet()
        await system.command(FUNDING_COMMAND, fiscal_entity_code=entity, as_of="2025-01-31")
        await system.quiet()  # as of January the February money is not there yet: nothing
        assert of_type(await system.events("annuity.ledger"),
                       annuity.NOTIONAL_FUNDING_REQUESTED) == []
        await system.command(FUNDING_COMMAND, fiscal_entity_code=entity, as_of="2025-03-31")
        await system.command(FUNDING_COMMAND, fiscal_entity_code=entity, as_of="2025-04-30")
        await system.command(FUNDING_COMMAND, fiscal_entity_code="159900", as_of="2025-04-30")
        await system.publish(retired(EVE, entity, "2025-05-01"))  # zero notional: left out
        await system.quiet()
        ledger = await system.events("annuity.ledger")
        commands = await system.events("ops.commands")
    [funding] = of_type(ledger, annuity.NOTIONAL_FUNDING_REQUESTED)
    assert (funding["cause"], funding["as_of"], funding["total"]) == ("command", "2025-03-31",
                                                                      "800.00")
    assert [m["person_id"] for m in funding["members"]] == [ALICE, BOB]
    assert of_type(ledger, REJECTED) == []
    [rejected] = of_type(commands, "ops.command.rejected.v1")
    assert [(r["code"], r["field"]) for r in rejected["reasons"]] == [
        ("FIELD_INVALID", "fiscal_entity_code")]


# ---- 补记 ------------------------------------------------------------------------------------


async def test_a_back_credit_is_requested_and_credited_to_unit_real_when_settled() -> None:
    entity = "150781"
    request_id = backcredit_request_id(entity, "B-EVE-2025-1")
    async with running_system() as system:
        await system.publish(declared_and_paid(
            registered(run_id("D"), entity, "2025-03", "self", [(EVE, 490_700)])))
        await system.quiet()
        before = await system.balances(EVE)
        await system.publish(backcredited(EVE, entity, "8000.00", "2025-04-18",
                                          backcredit_id="B-EVE-2025-1"))
        await system.quiet()
        [asked] = [r for r in of_type(await system.events(transfer.TOPIC_REQUESTS),
                                      transfer.REQUESTED) if r["request_id"] == request_id]
        assert (asked["purpose"], asked["amount"], asked["period"], asked["due_on"],
                asked["source"]) == ("annuity_backcredit", "8000.00", "2025-04", "2025-05-18",
                                     {"entity_code": entity, "kind": "special"})
        await system.settle(entity, notice_id_for_request(request_id, 0), 800_000, "2025-05-02")
        await system.quiet()
        ledger = await system.events("annuity.ledger")
        after = await system.balances(EVE)
    [requested] = of_type(ledger, annuity.BACKCREDIT_REQUESTED)
    assert (requested["backcredit_id"], requested["request_id"], requested["amount"]) == (
        "B-EVE-2025-1", request_id, "8000.00")
    assert of_type(ledger, annuity.BACKCREDIT_COMPLETED) == [{
        "backcredit_id": "B-EVE-2025-1", "request_id": request_id, "person_id": EVE,
        "fiscal_entity_code": entity, "amount": "8000.00", "value_date": "2025-05-02",
        "notice_id": notice_id_for_request(request_id, 0)}]
    assert after["unit_real"] - before["unit_real"] == 800_000


# ---- rejections --------------------------------------------------------------------------------


def reasons_of(rejection: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((r["code"], r["field"]) for r in rejection["reasons"])


async def test_bad_personnel_events_are_rejected_with_every_reason() -> None:
    entity = "150900"
    async with running_system() as system:
        await system.publish(retired(ALICE, entity, "2025-04-01", retirement_id="R-EARLY"))
        await system.quiet()  # ALICE is not a member yet: rejected, not kept for later
        await system.publish(declared_and_paid(
            registered(run_id("D"), entity, "2025-03", "treasury_full", [(ALICE, 490_700)])))
        await system.quiet()
        await system.publish(
            retired(BOB, entity, "2025-04-01", retirement_id="R-UNKNOWN")
            + retired(ALICE, "150100", "2025-04-01", retirement_id="R-ELSEWHERE")
            + retired(ALICE, entity, "2025-02-28", retirement_id="R-TOO-EARLY")
            + backcredited(ALICE, entity, "0.00", "2025-04-01", backcredit_id="B-ZERO")
            + backcredited(ALICE, entity, "-5.00", "2025-04-01", backcredit_id="B-NEGATIVE")
            + retired("150102199001010018", entity, "2025-02-30", retirement_id="r-lower",
                      employer_uscc=USCC[:-1] + "M", fiscal_entity_code="159900", extra=1)
            + backcredited(ALICE, entity, "100.00", "2025-04-01", backcredit_id="B-SAME")
            + backcredited(ALICE, entity, "200.00", "2025-04-01", backcredit_id="B-SAME"))
        await system.quiet()
        rejections = {r.get("retirement_id") or r.get("backcredit_id"): r
                      for r in of_type(await system.events("annuity.ledger"), REJECTED)}
    assert set(rejections) == {"R-EARLY", "R-UNKNOWN", "R-ELSEWHERE", "R-TOO-EARLY", "B-ZERO",
                               "B-NEGATIVE", "r-lower", "B-SAME"}
    for member_unknown in ("R-EARLY", "R-UNKNOWN", "R-ELSEWHERE"):
        assert reasons_of(rejections[member_unknown]) == [("MEMBER_UNKNOWN", "person_id")]
    assert reasons_of(rejections["R-TOO-EARLY"]) == [("DATE_INVALID", "retired_on")]
    for amount in ("B-ZERO", "B-NEGATIVE"):
        assert reasons_of(rejections[amount]) == [("AMOUNT_INVALID", "amount")]
    assert reasons_of(rejections["r-lower"]) == [
        ("DATE_INVALID", "retired_on"), ("EMPLOYER_USCC_INVALID", "employer_uscc"),
        ("ENTITY_UNKNOWN", "fiscal_entity_code"), ("FIELD_INVALID", "extra"),
        ("FIELD_INVALID", "retirement_id"), ("PERSON_ID_INVALID", "person_id")]
    assert reasons_of(rejections["B-SAME"]) == [("CONFLICTING_DUPLICATE", "backcredit_id")]
    assert rejections["B-SAME"]["hr_event_type"] == "hr.annuity.backcredit.v1"
    assert "backcredit_id" not in rejections["R-EARLY"]


# ---- what operators see ------------------------------------------------------------------------


async def pension_ops(system: System, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str], *args: str) -> str:
    monkeypatch.setenv("NAMESPACE", system.namespace)
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


async def test_the_report_reconciles_funding_and_a_trace_follows_the_members_notices(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    entity = "152200"
    funding_id = notional_funding_id(entity, "retirement", "R-DAVE-1")
    first, replacement = (notice_id_for_request(funding_id, n) for n in (0, 1))
    backcredit = backcredit_request_id(entity, "B-DAVE-1")
    async with running_system() as system:
        await system.publish(declared_and_paid(registered(
            run_id("D"), entity, "2025-03", "treasury_full", [(DAVE, 500_000), (BOB, 400_000)])))
        await system.quiet()
        await system.publish(retired(DAVE, entity, "2025-04-20", retirement_id="R-DAVE-1")
                             + backcredited(DAVE, entity, "100.00", "2025-04-20",
                                            backcredit_id="B-DAVE-1"))
        await system.quiet()
        await system.settle(entity, first, 10_000, "2025-05-06")  # 100.00 of 400.00
        await system.fail(entity, first, "2025-05-07")
        await system.quiet()
        await system.settle(entity, replacement, 30_000, "2025-05-09")
        await system.settle(entity, notice_id_for_request(backcredit, 0), 10_000, "2025-05-09")
        await system.quiet()
        report = json.loads(await pension_ops(system, monkeypatch, capsys, "report", "2025-04",
                                              "--json", "--strict"))
        traced = json.loads(await pension_ops(system, monkeypatch, capsys, "trace", "--member",
                                              DAVE, "--json"))
        shown = await pension_ops(system, monkeypatch, capsys, "trace", "--member", DAVE)
    sections = report["sections"]
    assert all(sections[key]["reconciles"] for key in ("notional", "fundings", "backcredits"))
    row = next(r for r in sections["notional"]["rows"] if r["fiscal_entity_code"] == entity)
    assert (row["credited"], row["funded"], row["balance"]) == ("720.00", "400.00", "320.00")
    assert sections["fundings"]["totals"] == {"fundings": 1, "members": 1, "requested": "400.00",
                                              "completed": "400.00", "outstanding": "0.00"}
    assert sections["backcredits"]["totals"]["completed"] == "100.00"
    kinds = [(e["type"], e["id"]) for e in traced["events"]]
    for event_type in ("hr.member.retired.v1", annuity.NOTIONAL_FUNDING_REQUESTED,
                       transfer.REQUESTED, transfer.NOTICE_FAILED, transfer.NOTICE_SETTLED,
                       annuity.NOTIONAL_FUNDING_COMPLETED, annuity.BACKCREDIT_COMPLETED):
        assert event_type in {t for t, _ in kinds}, event_type
    issued = sorted((e["id"], e["summary"].split(": ", 1)[1]) for e in traced["events"]
                    if e["type"] == transfer.NOTICE_ISSUED)
    assert sorted(summary.split(",")[0] for _, summary in issued) == [
        "100.00 from 152200 special to 150000 annuity_collection",  # the back-credit
        "300.00 from 152200 special to 150000 annuity_collection",  # the replacement
        "400.00 from 152200 special to 150000 annuity_collection"]
    assert traced["member"] == "1529**********0013"
    assert DAVE not in shown
    assert BOB not in json.dumps(traced)
