"""The tax and collection contract models say what CONTRACTS.md says, schemas included."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts import collection, tax
from tests.unit.collection import factory


def test_the_contract_example_declaration_and_payment_are_valid() -> None:
    data = factory.declaration(
        declaration_id="D-150100-2025-03-000123", employer_uscc="91110000600037341L")
    tax.DeclarationDeclared.model_validate(data)
    tax.PaymentPaid.model_validate({
        "payment_id": "P-2025-04-000777", "declaration_id": "D-150100-2025-03-000123",
        "e_tax_voucher_no": "315150025000012345", "amount_paid": "1440.00",
        "paid_on": "2025-04-10"})


def test_the_declaration_schema_caps_lines_at_5000_and_needs_at_least_one() -> None:
    lines = tax.DeclarationDeclared.model_json_schema()["properties"]["lines"]
    assert (lines["minItems"], lines["maxItems"]) == (1, tax.LINES_MAX)


def test_money_sent_as_a_json_number_is_refused_not_coerced() -> None:
    data = factory.payment("D-1", "1.00") | {"amount_paid": 1}
    with pytest.raises(ValidationError):
        tax.PaymentPaid.model_validate(data)


def test_every_outbound_type_names_its_entity_id() -> None:
    assert set(collection.EVENT_MODELS) == {
        "collection.declaration.registered.v1", "collection.declaration.rejected.v1",
        "collection.contribution.settled.v1", "collection.payment.rejected.v1",
        "collection.contribution.overdue.v1", "collection.enterprise_annuity.registered.v1",
        "collection.enterprise_annuity.rejected.v1", "collection.annuity_base.finding.v1",
        "collection.annuity_base.resolved.v1"}
    entity = {"collection.contribution.settled.v1": "payment_id",
              "collection.payment.rejected.v1": "payment_id",
              "collection.annuity_base.finding.v1": "finding_id",
              "collection.annuity_base.resolved.v1": "finding_id"}
    for event_type, model in collection.EVENT_MODELS.items():
        assert entity.get(event_type, "declaration_id") in model.model_fields


@pytest.mark.parametrize("fields", [
    {"declaration_id", "revision", "employer_uscc", "region_code", "fiscal_entity_code", "scheme",
     "unit_funding", "fee_period", "declared_on", "due_on", "line_count", "base_total",
     "employer_total", "employee_total", "amount_due", "rule_version", "lines"},
])
def test_registered_has_every_field_the_contract_requires(fields: set[str]) -> None:
    assert fields <= set(collection.DeclarationRegistered.model_fields)


def test_settled_and_overdue_have_every_field_the_contract_requires() -> None:
    assert {"declaration_id", "revision", "payment_id", "paid_on", "amount_due", "amount_paid",
            "amount_paid_total", "amount_outstanding", "days_late", "late_fee_due",
            "status"} <= set(collection.ContributionSettled.model_fields)
    assert {"declaration_id", "employer_uscc", "fiscal_entity_code", "fee_period", "due_on",
            "amount_due", "amount_outstanding", "days_late", "late_fee_accrued",
            "as_of"} <= set(collection.ContributionOverdue.model_fields)


def rejected(code: str) -> dict[str, Any]:
    return {"declaration_id": "D-1", "revision": 0,
            "reasons": [{"code": code, "line_no": None, "field": None, "message": "m"}]}


def test_a_rejection_accepts_only_the_contracts_reason_codes() -> None:
    collection.DeclarationRejected.model_validate(rejected("TOO_MANY_LINES"))
    with pytest.raises(ValidationError):
        collection.DeclarationRejected.model_validate(rejected("SOMETHING_ELSE"))
