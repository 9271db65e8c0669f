"""Contract checks cost what the contract knows; a rejection names at most 1,000 reasons."""

from __future__ import annotations

from typing import Any

from shared.contracts.fields import REASONS_MAX, cap_reasons, validate_contract
from shared.contracts.tax import PAYMENT_CODES, PaymentPaid
from shared.contracts.transfer import REQUEST_CODES, TransferRequested

PAYMENT: dict[str, Any] = {"payment_id": "P-1", "declaration_id": "D-1",
                           "e_tax_voucher_no": "315150025000012345", "amount_paid": "1.00",
                           "paid_on": "2025-04-10"}


def test_a_valid_payload_gives_its_model_and_no_reason() -> None:
    checked = validate_contract(PaymentPaid, PAYMENT, PAYMENT_CODES)
    assert checked.model is not None
    assert (checked.reasons, checked.more, checked.failed) == ([], 0, [])


def test_four_hundred_thousand_unknown_fields_become_a_thousand_reasons_and_a_count() -> None:
    data = {**PAYMENT, **{f"k{i}": 0 for i in range(400_000)}}
    checked = validate_contract(PaymentPaid, data, PAYMENT_CODES)
    assert checked.model is None
    assert len(checked.reasons) == REASONS_MAX
    assert checked.more == 400_000 - REASONS_MAX
    assert checked.reasons[0]["field"] == "k0"


def test_unknown_fields_in_nested_objects_are_named_with_their_path() -> None:
    request = {"request_id": "R-1", "purpose": "annuity_remittance",
               "fund": "occupational_annuity", "period": "2025-03", "amount": "1.00",
               "source": {"entity_code": "150100", "kind": "annuity_collection", "x": 1},
               "target": {"entity_code": "150000", "kind": "annuity_collection"},
               "due_on": "2025-04-15"}
    checked = validate_contract(TransferRequested, request, REQUEST_CODES, dotted=True)
    assert [(r["code"], r["field"]) for r in checked.reasons] == [("FIELD_INVALID", "source.x")]


def test_an_unknown_field_name_is_bounded_and_printable() -> None:
    checked = validate_contract(PaymentPaid, {**PAYMENT, "\u0000" + "n" * 5000: 1},
                                PAYMENT_CODES)
    [reason] = checked.reasons
    assert len(reason["field"]) == 256
    assert reason["field"].startswith("?nnn")


def test_cap_keeps_the_first_999_then_says_how_many_more() -> None:
    reasons = [{"code": "FIELD_INVALID", "line_no": n, "field": "x", "message": "m"}
               for n in range(1500)]
    capped = cap_reasons(reasons, more=10)
    assert len(capped) == REASONS_MAX
    assert capped[:999] == reasons[:999]
    assert capped[-1] == {"code": "TOO_MANY_REASONS", "field": None, "line_no": None,
                          "message": "511 more reasons not listed"}


def test_cap_leaves_a_thousand_reasons_alone() -> None:
    reasons = [{"code": "FIELD_INVALID", "field": "x", "message": "m"}] * REASONS_MAX
    assert cap_reasons(reasons) == reasons
