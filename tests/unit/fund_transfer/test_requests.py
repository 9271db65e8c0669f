"""A transfer request from another service becomes a notice between the accounts of the book,
settles on transfer.notices only, and a bad request is rejected with every reason."""

from __future__ import annotations

import pytest

from shared.contracts import transfer
from tests.unit.fund_transfer.support import Ledger, codes, only, request_notice, types


def test_a_request_issues_a_notice_with_the_request_formula_and_book_accounts() -> None:
    out = Ledger().request(request_id="R-7")
    notice = only(out, transfer.NOTICE_ISSUED)
    assert notice["notice_id"] == request_notice("R-7")
    assert (notice["purpose"], notice["fund"], notice["amount"], notice["covers"]) == (
        "annuity_remittance", "occupational_annuity", "800.00", ["R-7"])
    assert notice["source_account"]["account_no"] == "SAMPLE-150200-02"
    assert notice["target_account"]["name"] == "内蒙古自治区职业年金归集账户"
    assert notice["document_no"] is None


def test_a_topup_request_is_paid_from_the_entitys_special_account() -> None:
    out = Ledger().request(purpose="annuity_interest_topup",
                           source={"entity_code": "150300", "kind": "special"})
    notice = only(out, transfer.NOTICE_ISSUED)
    assert (notice["purpose"], notice["source_account"]["name"]) == (
        "annuity_interest_topup", "乌海市社会保障基金财政专户")
    assert out[0].key == "150300"


@pytest.mark.parametrize("purpose", ["annuity_notional_funding", "annuity_backcredit"])
def test_funding_and_backcredit_requests_move_special_money_to_the_regions_collection(
        purpose: str) -> None:
    out = Ledger().request(purpose=purpose, source={"entity_code": "152500", "kind": "special"})
    notice = only(out, transfer.NOTICE_ISSUED)
    assert (notice["purpose"], notice["source_account"]["name"],
            notice["target_account"]["name"]) == (
        purpose, "锡林郭勒盟社会保障基金财政专户", "内蒙古自治区职业年金归集账户")
    assert out[0].key == "152500"


def test_a_settled_request_reports_on_notices_only() -> None:
    ledger = Ledger()
    ledger.request(request_id="R-7")
    out = ledger.settle("S-1", request_notice("R-7"), "800.00", value_date="2025-04-20")
    assert types(out) == [transfer.NOTICE_SETTLED]
    assert out[0].data["covers"] == ["R-7"]
    assert ledger.ws.obligations == {}
    assert ledger.check("2025-05-01") == []


def test_a_failed_request_notice_is_replaced_with_the_request_formula() -> None:
    ledger = Ledger()
    ledger.request(request_id="R-7")
    out = ledger.fail("F-1", request_notice("R-7"))
    assert only(out, transfer.NOTICE_ISSUED)["notice_id"] == request_notice("R-7", 1)


def test_a_replayed_request_issues_nothing_and_a_changed_one_is_a_conflict() -> None:
    ledger = Ledger()
    ledger.request()
    assert ledger.request() == []
    out = ledger.request(amount="1.00")
    assert types(out) == [transfer.REQUEST_REJECTED]
    assert codes(out[0]) == ["CONFLICTING_DUPLICATE"]


def test_a_bad_request_is_rejected_with_every_reason() -> None:
    out = Ledger().request(purpose="bonus", fund="enterprise_basic_pension", amount="0.00",
                           due_on="2025-04-31", source={"entity_code": "159999",
                                                        "kind": "special"},
                           target={"entity_code": "15000", "kind": "vault"})
    assert types(out) == [transfer.REQUEST_REJECTED]
    reasons = {(r["code"], r["field"]) for r in out[0].data["reasons"]}
    assert reasons == {
        ("PURPOSE_UNKNOWN", "purpose"), ("FUND_UNKNOWN", "fund"),
        ("AMOUNT_INVALID", "amount"), ("DATE_INVALID", "due_on"),
        ("ENTITY_UNKNOWN", "source.entity_code"), ("ENTITY_UNKNOWN", "target.entity_code"),
        ("FIELD_INVALID", "target.kind"),
    }
    transfer.RequestRejected.model_validate(out[0].data)


def test_a_request_between_one_account_and_itself_is_rejected() -> None:
    out = Ledger().request(target={"entity_code": "150200", "kind": "annuity_collection"})
    assert [(r["code"], r["field"]) for r in out[0].data["reasons"]] == [
        ("FIELD_INVALID", "target")]
