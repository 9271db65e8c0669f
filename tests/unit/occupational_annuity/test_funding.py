"""做实 funds each member's whole notional balance once and moves it without creating money;
补记 asks for its amount; personnel events name every reason they fail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.occupational_annuity import domain, validation
from services.occupational_annuity.model import (
    MemberLedger,
    NotionalFunding,
    PersonnelEvent,
)
from shared.ids import backcredit_request_id, notional_funding_id
from tests.unit.occupational_annuity.support import ALICE, BOB, CAROL, LOCAL

ENTITY = "150200"
MARCH = dt.date(2025, 3, 1)
USCC = "91110000600037341L"


def member(person_id: str, *notional: tuple[dt.date, int], funded: bool = False,
           first: dt.date | None = MARCH) -> MemberLedger:
    return MemberLedger(person_id, ENTITY, first, tuple(notional), funded)


def retirement(person_id: str = ALICE, on: dt.date = dt.date(2025, 4, 20),
               event_id: str = "R-1", content: bytes = b"a") -> PersonnelEvent:
    return PersonnelEvent("retirement", event_id, ENTITY, content, person_id, ENTITY, on)


def test_a_funding_takes_each_members_whole_balance_at_as_of_and_leaves_out_the_rest() -> None:
    members = [member(BOB, (MARCH, 39_256), (dt.date(2024, 12, 31), 1_000)),
               member(ALICE, (MARCH, 40_000), (dt.date(2025, 5, 1), 5)),  # after as_of
               member(CAROL, (MARCH, 10_000), funded=True),
               member("150102199001010035")]  # no notional money
    funding = domain.fund_members(ENTITY, "command", "C-1", as_of=dt.date(2025, 4, 30),
                                  members=members, rules=LOCAL)
    assert funding is not None
    assert funding.funding_id == notional_funding_id(ENTITY, "command", "C-1")
    assert [(m.person_id, m.amount_fen) for m in funding.members] == [
        (ALICE, 40_000), (BOB, 40_256)]
    assert (funding.total_fen, funding.due_on) == (80_256, dt.date(2025, 5, 30))


def test_nobody_to_fund_makes_no_funding() -> None:
    members = [member(ALICE, (MARCH, 100), funded=True), member(BOB)]
    assert domain.fund_members(ENTITY, "command", "C-1", as_of=dt.date(2025, 4, 30),
                               members=members, rules=LOCAL) is None


def test_completion_moves_money_from_notional_to_real_and_creates_none() -> None:
    funding = domain.fund_members(
        ENTITY, "retirement", "R-1", as_of=dt.date(2025, 4, 20),
        members=[member(ALICE, (MARCH, 12_345))], rules=LOCAL)
    assert isinstance(funding, NotionalFunding)
    entries = domain.funding_entries(funding, dt.date(2025, 5, 8))
    assert [(e.sub_ledger, e.amount_fen, e.effective_on) for e in entries] == [
        ("unit_notional", -12_345, dt.date(2025, 5, 8)), ("unit_real", 12_345,
                                                           dt.date(2025, 5, 8))]
    assert sum(e.amount_fen for e in entries) == 0


@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=20))
def test_a_fundings_members_always_sum_to_its_total(balances: list[int]) -> None:
    members = [member(f"P{n:017d}", (MARCH, fen)) for n, fen in enumerate(balances)]
    funding = domain.fund_members(ENTITY, "command", "C-9", as_of=MARCH, members=members,
                                  rules=LOCAL)
    assert funding is not None
    assert sum(m.amount_fen for m in funding.members) == funding.total_fen == sum(balances)
    entries = domain.funding_entries(funding, MARCH)
    assert sum(e.amount_fen for e in entries if e.sub_ledger == "unit_real") == sum(balances)


def test_a_second_retirement_or_a_repeat_funds_nothing_more() -> None:
    book = domain.PersonnelBook({(ALICE, ENTITY): member(ALICE, (MARCH, 500))}, {})
    first = domain.apply_personnel(book, retirement(), LOCAL)
    assert first.funding is not None
    assert domain.apply_personnel(book, retirement(), LOCAL).repeat
    second = domain.apply_personnel(book, retirement(event_id="R-2", content=b"b"), LOCAL)
    assert (second.reasons, second.funding) == ((), None)
    conflict = domain.apply_personnel(book, retirement(content=b"other"), LOCAL)
    assert [r["code"] for r in conflict.reasons] == ["CONFLICTING_DUPLICATE"]


def test_unknown_members_and_retirements_before_the_first_credit_are_refused() -> None:
    assert [r["code"] for r in domain.member_reasons(retirement(), None)] == ["MEMBER_UNKNOWN"]
    never = member(ALICE, first=None)
    assert [r["code"] for r in domain.member_reasons(retirement(), never)] == ["MEMBER_UNKNOWN"]
    early = retirement(on=dt.date(2025, 2, 28))
    assert [r["field"] for r in domain.member_reasons(early, member(ALICE))] == ["retired_on"]


def test_a_back_credit_asks_its_amount_from_the_entitys_treasury() -> None:
    book = domain.PersonnelBook({(BOB, ENTITY): member(BOB)}, {})
    event = PersonnelEvent("backcredit", "B-7", ENTITY, b"x", BOB, ENTITY, dt.date(2025, 4, 18),
                           amount_fen=800_000, document_no="人社〔2025〕3号")
    backcredit = domain.apply_personnel(book, event, LOCAL).backcredit
    assert backcredit is not None
    assert (backcredit.request_id, backcredit.due_on) == (
        backcredit_request_id(ENTITY, "B-7"), dt.date(2025, 5, 18))
    request = domain.backcredit_request(backcredit)
    assert (request.purpose, request.amount_fen) == ("annuity_backcredit", 800_000)


def check(data: dict[str, Any], event_type: str = "hr.member.retired.v1") -> Any:
    return validation.check(event_type, data, validation.Envelope("R-1", ENTITY, b"h"))


def test_a_valid_retirement_reads_as_a_personnel_event() -> None:
    event = check({"retirement_id": "R-1", "person_id": ALICE, "employer_uscc": USCC,
                   "fiscal_entity_code": ENTITY, "retired_on": "2025-04-20"})
    assert event == PersonnelEvent("retirement", "R-1", ENTITY, b"h", ALICE, ENTITY,
                                   dt.date(2025, 4, 20))


def test_a_person_born_after_the_event_or_a_missing_field_is_named() -> None:
    event = check({"backcredit_id": "B-1", "person_id": "150102203001010011",
                   "employer_uscc": USCC, "fiscal_entity_code": ENTITY, "amount": "1.00",
                   "recorded_on": "2025-04-20", "document_no": "x"}, "hr.annuity.backcredit.v1")
    assert sorted(r["code"] for r in event.reasons) == ["FIELD_INVALID", "PERSON_ID_INVALID"]
    assert event.person_id is None
