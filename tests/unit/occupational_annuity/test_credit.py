"""A paid declaration credits each member once: employee money real, unit money real or notional."""

from __future__ import annotations

from services.occupational_annuity import domain
from services.occupational_annuity.model import (
    Declaration,
    DeclarationPayment,
    Line,
    MemberCredit,
)
from tests.unit.occupational_annuity.support import ALICE, BOB, LOCAL


def declaration(unit_funding: domain.UnitFunding = "self", revision: int = 0,
                period: str = "2025-03") -> Declaration:
    return Declaration("D-1", revision, "150200", period, unit_funding, (
        Line(BOB, 39_256, 19_628), Line(ALICE, 80_000, 40_000), Line(BOB, 100, 50)))


def settled(payment_id: str, status: str, revision: int = 0,
            reported: bool = False) -> DeclarationPayment:
    return DeclarationPayment(payment_id, "D-1", revision, status, reported)


def test_self_funded_units_credit_unit_real_and_members_are_summed_and_sorted() -> None:
    decision = domain.decide_credit(declaration(), [settled("P-1", "paid")], credited=False)
    assert decision.credit is not None
    assert decision.credit.members == (
        MemberCredit(ALICE, 40_000, 80_000, 0), MemberCredit(BOB, 19_678, 39_356, 0))
    assert decision.credit.funded_fen == 179_034


def test_treasury_funded_units_credit_unit_notional_which_is_not_funded_money() -> None:
    decision = domain.decide_credit(declaration("treasury_full"), [settled("P-1", "overpaid")],
                                    credited=False)
    assert decision.credit is not None
    assert decision.credit.members[0] == MemberCredit(ALICE, 40_000, 0, 80_000)
    assert decision.credit.funded_fen == 59_678
    assert decision.credit.total("unit_notional") == 119_356


def test_a_settlement_without_its_declaration_waits() -> None:
    assert domain.decide_credit(None, [settled("P-1", "paid")], credited=False).credit is None


def test_a_settlement_of_a_revision_not_yet_registered_waits_for_its_lines() -> None:
    decision = domain.decide_credit(declaration(revision=0), [settled("P-1", "paid", revision=1)],
                                    credited=False)
    assert decision.credit is None


def test_each_underpaid_payment_is_reported_once_and_the_full_payment_credits() -> None:
    settlements = [settled("P-1", "underpaid", reported=True), settled("P-2", "underpaid"),
                   settled("P-3", "paid")]
    decision = domain.decide_credit(declaration(), settlements, credited=False)
    assert decision.uncredited_payment_ids == ("P-2",)
    assert decision.credit is not None
    assert decision.credit.payment_id == "P-3"


def test_a_credited_declaration_is_never_credited_again() -> None:
    decision = domain.decide_credit(declaration(), [settled("P-1", "paid")], credited=True)
    assert decision.credit is None


def test_only_funded_credits_before_investment_start_wait_for_a_topup() -> None:
    def state(unit_funding: domain.UnitFunding, period: str) -> str:
        credit = domain.decide_credit(declaration(unit_funding, period=period),
                                      [settled("P", "paid")], credited=False).credit
        assert credit is not None
        return domain.topup_state(credit, LOCAL)

    assert state("self", "2019-06") == "pending"
    assert state("treasury_full", "2019-06") == "pending"  # its individual share is funded
    assert state("self", "2020-03") == "not_applicable"
