"""Rule sets load as exact data, and every outbound payload matches its contract."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from services.occupational_annuity import domain, events
from services.occupational_annuity.model import (
    Credit,
    Declaration,
    EntityPosting,
    Line,
    Remittance,
    RemittancePlan,
    TopupAssessment,
    TopupFunding,
    TopupMember,
)
from shared.contracts import annuity as contract
from shared.ids import remittance_id
from tests.unit.occupational_annuity.support import ALICE, BOB, LOCAL, PRODUCTION

TRANSFER_FIELDS = {"request_id", "purpose", "fund", "period", "amount", "source", "target",
                   "due_on"}


def test_production_ships_no_rates_and_local_adds_the_labelled_sample_rates() -> None:
    assert PRODUCTION.notional_rates == {}
    assert "production" in PRODUCTION.rule_version
    assert "sample" in LOCAL.rule_version
    assert sorted(LOCAL.notional_rates) == list(range(2014, 2026))
    assert LOCAL.notional_rates[2015].value == Fraction(52, 1000)
    assert LOCAL.notional_rates[2025].text == "0.0300"
    for rules in (PRODUCTION, LOCAL):
        assert rules.investment_start == dt.date(2020, 4, 1)
        assert (rules.remittance_request_day, rules.remittance_due_day) == (5, 15)


def test_a_remittance_asks_fund_transfer_for_exactly_the_contract_fields() -> None:
    plan = RemittancePlan(remittance_id("150200", "2025-03", 0), "150200", "2025-03", 0, 123_456,
                          dt.date(2025, 4, 5), dt.date(2025, 4, 15))
    data = events.remittance_transfer(plan)
    assert set(data) == TRANSFER_FIELDS
    assert data == {
        "request_id": plan.remittance_id, "purpose": "annuity_remittance",
        "fund": "occupational_annuity", "period": "2025-03", "amount": "1234.56",
        "source": {"entity_code": "150200", "kind": "annuity_collection"},
        "target": {"entity_code": "150000", "kind": "annuity_collection"},
        "due_on": "2025-04-15",
    }
    contract.RemittanceRequested.model_validate(events.remittance_requested(plan, "v"))


def test_a_topup_is_funded_from_the_paying_entitys_special_account() -> None:
    assessment = domain.assess_topup("150300", "2019-12", sequence=0,
                                     principals={ALICE: 100_000}, as_of=dt.date(2025, 6, 6),
                                     rules=LOCAL)
    assert isinstance(assessment, TopupAssessment)
    data = events.topup_transfer(assessment)
    assert set(data) == TRANSFER_FIELDS
    assert (data["purpose"], data["amount"], data["due_on"]) == (
        "annuity_interest_topup", "9.97", "2025-07-06")
    assert data["source"] == {"entity_code": "150300", "kind": "special"}
    assert data["target"] == {"entity_code": "150000", "kind": "annuity_collection"}
    assessed = contract.InterestTopupAssessed.model_validate(events.topup_assessed(assessment))
    assert assessed.total == "9.97"


def test_ledger_payloads_validate_against_their_models() -> None:
    credit = Credit(Declaration("D-1", 2, "150200", "2025-03", "self",
                                (Line(ALICE, 80_000, 40_000),)), "P-1",
                    domain.member_credits(Declaration("D-1", 2, "150200", "2025-03", "self",
                                                      (Line(ALICE, 80_000, 40_000),))))
    credited = contract.ContributionCredited.model_validate(events.credited(credit))
    assert (credited.individual_real_total, credited.unit_real_total,
            credited.unit_notional_total) == ("400.00", "800.00", "0.00")
    remittance = Remittance(remittance_id("150200", "2025-03", 0), "150200", "2025-03", 0, 5,
                            dt.date(2025, 4, 15), "requested")
    contract.RemittanceCompleted.model_validate(
        events.remittance_completed(remittance, "N-1", dt.date(2025, 4, 16), on_time=False))
    contract.RemittanceOverdue.model_validate(
        events.remittance_overdue(remittance, dt.date(2025, 5, 1)))
    funding = TopupFunding(remittance_id("150200", "2025-03", 9), "150200", "2025-03", 3,
                           "funding", (TopupMember(ALICE, 10, 2), TopupMember(BOB, 10, 1)))
    allocated = contract.InterestTopupAllocated.model_validate(
        events.topup_allocated(funding, "N-2"))
    assert [a.amount for a in allocated.allocations] == ["0.02", "0.01"]
    posted = contract.NotionalInterestPosted.model_validate(events.notional_posted(
        EntityPosting("150200", 2, 106), 2019, LOCAL.notional_rates[2019], "C-1", "v"))
    assert posted.rate == "0.0420"
    refused = contract.NotionalInterestRefused.model_validate(events.notional_refused("C-2", 2031))
    assert refused.reason == "RATE_NOT_CONFIGURED"
    contract.ContributionUncredited.model_validate(events.uncredited("D-1", "P-1"))
