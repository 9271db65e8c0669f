"""What the producers' own models accept, this service's reader's views read the same way."""

from __future__ import annotations

import datetime as dt

from services.occupational_annuity import domain, events
from services.occupational_annuity import validation as inbound
from services.occupational_annuity.model import RemittancePlan, TopupAssessment
from shared.contracts import collection, transfer
from shared.ids import notice_id_for_request, remittance_id
from tests.unit.occupational_annuity.support import ALICE, LOCAL

REQUEST = remittance_id("150200", "2025-03", 0)


def test_a_settled_notice_fund_transfer_publishes_reads_as_our_view() -> None:
    data = transfer.NoticeSettled(
        notice_id=notice_id_for_request(REQUEST, 1), attempt=1, purpose="annuity_remittance",
        covers=[REQUEST], amount="1428.84", amount_settled="1428.84", value_date="2025-04-14",
        bank_references=["B-1"],
    ).model_dump()
    view = inbound.NoticeSettled.model_validate(data)
    assert (view.notice_id, view.attempt, view.covers, view.amount_settled, view.value_date) == (
        data["notice_id"], 1, [REQUEST], "1428.84", "2025-04-14")
    assert domain.notice_matches(view.notice_id, view.attempt, [REQUEST])
    assert not domain.notice_matches(view.notice_id, 0, [REQUEST])


def test_a_failed_notice_fund_transfer_publishes_reads_as_our_view() -> None:
    data = transfer.NoticeFailed(
        notice_id=notice_id_for_request(REQUEST, 0), attempt=0, purpose="annuity_remittance",
        covers=[REQUEST], amount="1428.84", amount_settled="0.00", reason="account frozen",
        failed_on="2025-04-14", replaced_by=None,
    ).model_dump()
    view = inbound.NoticeFailed.model_validate(data)
    assert (view.reason, view.replaced_by) == ("account frozen", None)


def test_our_transfer_requests_validate_against_fund_transfers_model() -> None:
    plan = RemittancePlan(REQUEST, "150200", "2025-03", 0, 1, dt.date(2025, 4, 5),
                          dt.date(2025, 4, 15))
    transfer.TransferRequested.model_validate(events.remittance_transfer(plan))
    assessment = domain.assess_topup("150000", "2019-12", sequence=0,
                                     principals={"150102199001010019": 100_000},
                                     as_of=dt.date(2025, 6, 1), rules=LOCAL)
    assert isinstance(assessment, TopupAssessment)
    transfer.TransferRequested.model_validate(events.topup_transfer(assessment))


def test_a_registered_annuity_declaration_collection_publishes_reads_as_our_view() -> None:
    line = collection.RegisteredLine(line_no=1, person_id=ALICE, base="4907.00",
                                     employer_amount="392.56", employee_amount="196.28")
    data = collection.DeclarationRegistered(
        declaration_id="D-1", revision=1, replaces_revision=0, employer_uscc="91110000600037341L",
        region_code="150202", fiscal_entity_code="150200", scheme="occupational_annuity",
        unit_funding="treasury_full", fee_period="2025-03", declared_on="2025-03-10",
        due_on="2025-03-20", line_count=1, base_total="4907.00", employer_total="392.56",
        employee_total="196.28", amount_due="196.28", rule_version="r", lines=[line],
    ).model_dump()
    view = inbound.RegisteredAnnuity.model_validate(data)
    assert (view.revision, view.fiscal_entity_code, view.unit_funding) == (
        1, "150200", "treasury_full")
    assert view.lines[0].model_dump() == {"line_no": 1, "person_id": ALICE,
                                          "employer_amount": "392.56",
                                          "employee_amount": "196.28"}


def test_a_settlement_collection_publishes_reads_as_our_view() -> None:
    data = collection.ContributionSettled(
        declaration_id="D-1", revision=1, payment_id="P-1", paid_on="2025-04-10",
        due_on="2025-03-20", amount_due="588.84", amount_paid="500.00",
        amount_paid_total="500.00", amount_outstanding="88.84", days_late=21,
        late_fee_due="5.25", status="underpaid",
    ).model_dump()
    view = inbound.ContributionSettled.model_validate(data)
    assert (view.payment_id, view.status, view.amount_outstanding) == (
        "P-1", "underpaid", "88.84")
