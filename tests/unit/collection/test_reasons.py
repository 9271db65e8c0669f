"""Every reason code of CONTRACTS.md has a check giving it; a rejection names every failure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.collection.rules import load_rules
from services.collection.validation import (
    check_deadline_command,
    check_declaration,
    check_payment,
)
from tests.unit.collection import factory
from tests.unit.collection.ledger import Ledger, codes, kinds

PRODUCTION = load_rules("production")
LOCAL = load_rules("local")

Found = set[tuple[str, int | None, str | None]]


def found(data: dict[str, Any], rules: Any = PRODUCTION) -> Found:
    check = check_declaration(data, str(data.get("declaration_id")), rules)
    if not check.reasons:
        assert check.declaration is not None
    else:
        assert check.declaration is None
    return {(r["code"], r["line_no"], r["field"]) for r in check.reasons}


def with_line(**changes: Any) -> dict[str, Any]:
    data = factory.declaration()
    data["lines"][0].update(changes)
    return data


def without(data: dict[str, Any], *path: str | int) -> dict[str, Any]:
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return data


def flip_last(text: str, alphabet: str) -> str:
    return text[:-1] + next(c for c in alphabet if c != text[-1])


def test_a_valid_declaration_has_no_reason() -> None:
    assert found(factory.declaration()) == set()


@pytest.mark.parametrize("uscc", [
    flip_last("91110000600037341L", "0123456789ABCDEFGHJKLMNPQRTUWXY"),  # check character
    "91110000600037341l",  # lower case
    "9111000060003734IL",  # a letter outside the alphabet
    "91110000600037341",  # 17 characters
    None, 91110000600037341,
])
def test_employer_uscc_invalid(uscc: Any) -> None:
    assert found(factory.declaration(employer_uscc=uscc)) == {
        ("EMPLOYER_USCC_INVALID", None, "employer_uscc")}


@pytest.mark.parametrize("region_code", ["140102", "150001", "15010", 150102, None])
def test_region_unknown(region_code: Any) -> None:
    assert found(factory.declaration(region_code=region_code)) == {
        ("REGION_UNKNOWN", None, "region_code")}


@pytest.mark.parametrize("fee_period", ["2025-13", "2025-3", "2025-04", None])
def test_period_invalid_when_malformed_or_after_the_month_declared(fee_period: Any) -> None:
    assert found(factory.declaration(fee_period=fee_period)) == {
        ("PERIOD_INVALID", None, "fee_period")}


def test_scheme_not_configured_before_the_rates_took_effect() -> None:
    data = factory.declaration(fee_period="2019-04", declared_on="2019-04-10")
    assert found(data, LOCAL) == {("SCHEME_NOT_CONFIGURED", None, "scheme")}


def test_base_bounds_not_configured_for_a_year_production_does_not_know() -> None:
    data = factory.declaration(fee_period="2024-05", declared_on="2024-05-10")
    assert found(data, PRODUCTION) == {("BASE_BOUNDS_NOT_CONFIGURED", None, "fee_period")}


@pytest.mark.parametrize("person_id", [
    flip_last("150102199001010019", "0123456789X"),  # check character
    "11010519491231002x",  # lower-case x
    "11010519491231002Х",  # Cyrillic Х
    "１50102199001010019",  # a full-width digit
    "150102199001010019\u200b",  # zero-width space
    "150102199002300019",  # 30 February
    "150102203001010013",  # born after the declaration
    None, 150102199001010019,
])
def test_person_id_invalid(person_id: Any) -> None:
    assert found(with_line(person_id=person_id)) == {("PERSON_ID_INVALID", 1, "person_id")}


def test_person_duplicated_on_each_repeat_but_not_the_first_occurrence() -> None:
    data = factory.declaration(bases=("6000.00",) * 3)
    for line in data["lines"][1:]:
        line["person_id"] = data["lines"][0]["person_id"]
    assert found(data) == {("PERSON_DUPLICATED", 2, "person_id"),
                           ("PERSON_DUPLICATED", 3, "person_id")}


@pytest.mark.parametrize("base", ["4906.99", "24537.01"])
def test_base_out_of_range_of_the_years_floor_and_cap(base: str) -> None:
    data = factory.declaration(bases=(base,))
    assert found(data) == {("BASE_OUT_OF_RANGE", 1, "base")}


def test_amount_mismatch_names_the_expected_amount_in_yuan() -> None:
    data = with_line(base="4907.00", employer_amount="785.13", employee_amount="392.56")
    check = check_declaration(data, data["declaration_id"], PRODUCTION)
    [reason] = check.reasons
    assert (reason["code"], reason["line_no"], reason["field"]) == (
        "AMOUNT_MISMATCH", 1, "employer_amount")
    assert "785.12" in reason["message"]


@pytest.mark.parametrize("amount", [
    "960.0", "960", "-960.00", "1,960.00", "０960.00", "0960.00", "1234567890123.00",
    Decimal("960.00"), 960, None,
])
def test_amount_invalid_for_a_malformed_money_value(amount: Any) -> None:
    assert found(with_line(employer_amount=amount)) == {("AMOUNT_INVALID", 1, "employer_amount")}


def test_amount_invalid_for_a_missing_base_skips_the_amount_checks_of_that_line() -> None:
    assert found(without(factory.declaration(), "lines", 0, "base")) == {
        ("AMOUNT_INVALID", 1, "base")}


@pytest.mark.parametrize("declared_on", ["2025-02-30", "2025/03/12", "20250312", None])
def test_date_invalid(declared_on: Any) -> None:
    assert found(factory.declaration(declared_on=declared_on)) == {
        ("DATE_INVALID", None, "declared_on")}


@pytest.mark.parametrize(("scheme", "unit_funding"), [
    ("occupational_annuity", None), ("occupational_annuity", "bogus"),
    ("enterprise_basic", "self"), ("institution_basic", "treasury_full"),
])
def test_unit_funding_invalid(scheme: str, unit_funding: Any) -> None:
    data = factory.declaration(scheme=scheme, unit_funding=unit_funding)
    assert found(data) == {("UNIT_FUNDING_INVALID", None, "unit_funding")}


def test_unit_funding_invalid_when_an_annuity_omits_it() -> None:
    data = without(factory.declaration(scheme="occupational_annuity"), "unit_funding")
    assert found(data) == {("UNIT_FUNDING_INVALID", None, "unit_funding")}


def test_unit_funding_may_be_omitted_where_it_is_null() -> None:
    assert found(without(factory.declaration(), "unit_funding")) == set()


def test_too_many_lines_past_5000() -> None:
    data = factory.declaration(bases=("6000.00",) * 5001)
    assert found(data) == {("TOO_MANY_LINES", None, "lines")}


def test_past_5000_lines_the_lines_are_not_checked_one_by_one_but_the_header_is() -> None:
    data = factory.declaration(bases=("6000.00",) * 5001)
    data["employer_uscc"] = flip_last(data["employer_uscc"], "0123456789ABCDEFGHJKLMNPQRTUWXY")
    for line in data["lines"]:
        line["person_id"] = "not a resident identity number"
    assert found(data) == {("TOO_MANY_LINES", None, "lines"),
                           ("EMPLOYER_USCC_INVALID", None, "employer_uscc")}


def test_a_million_empty_lines_are_one_reason_and_cost_no_line_check() -> None:
    data = factory.declaration()
    data["lines"] = [{}] * 1_300_000
    assert found(data) == {("TOO_MANY_LINES", None, "lines")}


def test_unknown_fields_past_a_thousand_are_counted_not_itemised() -> None:
    data = factory.declaration(bases=("6000.00",) * 100)
    for line in data["lines"]:
        line.update({f"unknown_{k}": "v" for k in range(30)})
    check = check_declaration(data, data["declaration_id"], PRODUCTION)
    assert len(check.reasons) == 1000
    assert check.reasons_more == 2000
    assert {r["code"] for r in check.reasons} == {"FIELD_INVALID"}
    assert check.reasons[0] == {"code": "FIELD_INVALID", "line_no": 1, "field": "unknown_0",
                                "message": "Extra inputs are not permitted"}


@pytest.mark.parametrize("field", ["employer_name", "person_name"])
@pytest.mark.parametrize("character", ["\u0000", "\u0007", "\u001f", "\u007f", "\n"])
def test_a_control_character_in_text_is_field_invalid(field: str, character: str) -> None:
    data = factory.declaration()
    target = data if field == "employer_name" else data["lines"][0]
    target[field] = "张" + character.encode().decode("unicode_escape") + "三"
    line_no = None if field == "employer_name" else 1
    assert found(data) == {("FIELD_INVALID", line_no, field)}


def test_5000_lines_are_allowed() -> None:
    assert found(factory.declaration(bases=("6000.00",) * 5000)) == set()


@pytest.mark.parametrize(("line_no", "reported"), [
    (0, 0), (-1, -1), ("1", None), (True, None), (1.0, None), (2, 2), (None, None),
])
def test_line_number_invalid(line_no: Any, reported: int | None) -> None:
    assert found(with_line(line_no=line_no)) == {("LINE_NUMBER_INVALID", reported, "line_no")}


def test_line_number_invalid_when_missing_or_repeated() -> None:
    data = factory.declaration(bases=("6000.00",) * 3)
    del data["lines"][0]["line_no"]
    data["lines"][2]["line_no"] = 2
    assert found(data) == {("LINE_NUMBER_INVALID", None, "line_no"),
                           ("LINE_NUMBER_INVALID", 2, "line_no")}


@pytest.mark.parametrize(("changes", "field"), [
    ({"scheme": "enterprise_annuity"}, "scheme"),
    ({"employer_name": ""}, "employer_name"),
    ({"employer_name": "名" * 101}, "employer_name"),
    ({"declaration_id": "D 1"}, "declaration_id"),
    ({"declaration_id": ""}, "declaration_id"),
    ({"revision": -1}, "revision"),
    ({"revision": "1"}, "revision"),
    ({"lines": []}, "lines"),
    ({"lines": "none"}, "lines"),
    ({"note": "typo"}, "note"),
])
def test_field_invalid_for_any_other_malformed_field(changes: dict[str, Any], field: str) -> None:
    assert found(factory.declaration() | changes) == {("FIELD_INVALID", None, field)}


def test_field_invalid_inside_a_line_carries_its_line_no() -> None:
    assert found(with_line(person_name="", extra=1)) == {
        ("FIELD_INVALID", 1, "person_name"), ("FIELD_INVALID", 1, "extra")}


def test_a_malformed_declaration_id_or_revision_is_rejected_but_not_recorded() -> None:
    data = factory.declaration(revision=-1)
    assert not check_declaration(data, data["declaration_id"], PRODUCTION).recordable


def test_every_failing_check_of_every_line_is_named_in_one_rejection() -> None:
    data = factory.declaration(bases=("6000.00",) * 4, region_code="140102",
                               unit_funding="self", note="typo")
    data["employer_uscc"] = flip_last(data["employer_uscc"], "0123456789")
    first, second, third, fourth = data["lines"]
    first["employer_amount"] = "961.00"
    second["person_id"] = first["person_id"]
    second["base"] = "100.00"
    third["line_no"] = 2
    third["employee_amount"] = 480
    fourth["person_id"] = flip_last(fourth["person_id"], "0123456789X")
    fourth["line_no"] = 9
    check = check_declaration(data, data["declaration_id"], PRODUCTION)
    assert {(r["code"], r["line_no"], r["field"]) for r in check.reasons} == {
        ("EMPLOYER_USCC_INVALID", None, "employer_uscc"),
        ("REGION_UNKNOWN", None, "region_code"),
        ("UNIT_FUNDING_INVALID", None, "unit_funding"),
        ("FIELD_INVALID", None, "note"),
        ("AMOUNT_MISMATCH", 1, "employer_amount"),
        ("PERSON_DUPLICATED", 2, "person_id"),
        ("BASE_OUT_OF_RANGE", 2, "base"),
        ("AMOUNT_MISMATCH", 2, "employer_amount"),
        ("AMOUNT_MISMATCH", 2, "employee_amount"),
        ("LINE_NUMBER_INVALID", 2, "line_no"),
        ("AMOUNT_INVALID", 2, "employee_amount"),
        ("LINE_NUMBER_INVALID", 9, "line_no"),
        ("PERSON_ID_INVALID", 9, "person_id"),
    }
    assert len(check.reasons) == 13
    assert [r["line_no"] for r in check.reasons][:4] == [None] * 4  # declaration-level first


# -- revision codes: decided against what is already registered ------------------------------


def test_revision_stale_below_the_current_revision() -> None:
    ledger, data = Ledger(), factory.declaration(revision=3)
    ledger.one("declare", data)
    [emit] = ledger.one("declare", data | {"revision": 2})
    assert codes(emit) == ["REVISION_STALE"]


def test_already_settled_for_a_higher_revision_after_a_payment() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    ledger.one("pay", factory.payment(data["declaration_id"], "100.00"))
    [emit] = ledger.one("declare", data | {"revision": 1})
    assert codes(emit) == ["ALREADY_SETTLED"]


def test_conflicting_duplicate_for_the_same_revision_with_other_content() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    [emit] = ledger.one("declare", data | {"employer_name": "另一个名字"})
    assert kinds([emit]) == ["declaration.rejected.v1"]
    assert codes(emit) == ["CONFLICTING_DUPLICATE"]


# -- payment codes ------------------------------------------------------------------------------


def payment_found(data: dict[str, Any]) -> set[tuple[str, str | None]]:
    check = check_payment(data, str(data.get("payment_id")))
    return {(r["code"], r["field"]) for r in check.reasons}


@pytest.mark.parametrize("amount", ["0.00", "12.5", Decimal("12.50"), 1250, None])
def test_payment_amount_invalid(amount: Any) -> None:
    assert payment_found(factory.payment("D-1", amount)) == {
        ("AMOUNT_INVALID", "amount_paid")}


@pytest.mark.parametrize("paid_on", ["2025-02-29", "2025-03-18T10:00:00", None])
def test_payment_date_invalid(paid_on: Any) -> None:
    assert payment_found(factory.payment("D-1", "1.00", paid_on=paid_on)) == {
        ("DATE_INVALID", "paid_on")}


@pytest.mark.parametrize(("changes", "field"), [
    ({"declaration_id": "D 1"}, "declaration_id"), ({"e_tax_voucher_no": ""}, "e_tax_voucher_no"),
    ({"payer": "x"}, "payer"), ({"payment_id": "P/1"}, "payment_id"),
])
def test_payment_field_invalid(changes: dict[str, Any], field: str) -> None:
    assert payment_found(factory.payment("D-1", "1.00") | changes) == {("FIELD_INVALID", field)}


def test_payment_conflicting_duplicate_for_the_same_payment_id_with_other_content() -> None:
    ledger, data = Ledger(), factory.declaration()
    payment = factory.payment(data["declaration_id"], "100.00")
    ledger.batch(("declare", data), ("pay", payment))
    [emit] = ledger.one("pay", payment | {"amount_paid": "200.00"})
    assert kinds([emit]) == ["payment.rejected.v1"]
    assert codes(emit) == ["CONFLICTING_DUPLICATE"]


def test_payment_declaration_rejected_for_a_rejected_declaration() -> None:
    ledger, data = Ledger(), factory.declaration(region_code="140102")
    ledger.one("declare", data)
    [emit] = ledger.one("pay", factory.payment(data["declaration_id"], "100.00"))
    assert codes(emit) == ["DECLARATION_REJECTED"]


# -- command codes ------------------------------------------------------------------------------


def test_a_deadline_command_with_a_bad_date_is_date_invalid() -> None:
    check = check_deadline_command({"command_id": "C-1", "as_of": "2025-02-30"}, "C-1")
    assert (check.as_of, [r["code"] for r in check.reasons]) == (None, ["DATE_INVALID"])


def test_a_deadline_command_with_an_unknown_field_is_field_invalid() -> None:
    check = check_deadline_command({"command_id": "C-1", "as_of": "2025-03-01", "x": 1}, "C-1")
    assert [(r["code"], r["field"]) for r in check.reasons] == [("FIELD_INVALID", "x")]
