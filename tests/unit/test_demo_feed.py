"""The demo feeder generates a month that is valid by DOMAIN.md's rules except for the defects it
puts in on purpose, one known defect each, at the asked share, and the same month for a seed."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

import pytest

from demo import finance, oversight
from demo.events import Message
from demo.generate import (
    BASE_BOUNDS_FEN,
    DEFECTS,
    RATES_BPS,
    Declaration,
    DemoMonth,
    FeedConfig,
    generate_month,
)
from shared.cli.entities import LEAGUES_AND_CITIES, REGION, fiscal_entity_for_region
from shared.cli.progress import Progress
from shared.cli.report_model import ReportBuilder
from shared.contracts.assessment import AssessmentRequested
from shared.contracts.export import event_models
from shared.contracts.fields import DeadlineCheckRequested
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import read_envelope
from shared.ids import (
    notice_id_for_appropriation,
    notice_id_for_request,
    remittance_id,
    resident_id_problem,
    topup_assessment_id,
    uscc_is_valid,
)
from shared.money import amount_for_rate, parse_yuan

CONFIG = FeedConfig(employers=800, lines_per_employer=6, seed=7, invalid_percent=5)


@pytest.fixture(scope="module")
def month() -> DemoMonth:
    return generate_month(CONFIG)


def defects_of(data: dict[str, Any]) -> set[str]:
    """An independent check of the rules the generator must follow (or break on purpose)."""
    found = set()
    declared_on = dt.date.fromisoformat(data["declared_on"])
    floor_fen, cap_fen = BASE_BOUNDS_FEN[int(data["fee_period"][:4])]
    employer_bps, employee_bps = RATES_BPS[data["scheme"]]
    if not uscc_is_valid(data["employer_uscc"]):
        found.add("bad_uscc_check")
    seen = set()
    for line in data["lines"]:
        base = parse_yuan(line["base"])
        if not floor_fen <= base <= cap_fen:
            found.add("base_out_of_range")
        if (parse_yuan(line["employer_amount"]) != amount_for_rate(base, employer_bps)
                or parse_yuan(line["employee_amount"]) != amount_for_rate(base, employee_bps)):
            found.add("amount_mismatch")
        if line["person_id"] in seen:
            found.add("duplicate_person")
        seen.add(line["person_id"])
        if resident_id_problem(line["person_id"], not_after=declared_on) is not None:
            found.add("person_id_invalid")
    if [line["line_no"] for line in data["lines"]] != list(range(1, len(data["lines"]) + 1)):
        found.add("line_numbers")
    if fiscal_entity_for_region(data["region_code"]) is None:
        found.add("region_unknown")
    if data["fee_period"] > data["declared_on"][:7]:
        found.add("period_after_declared_on")
    return found


def current(month: DemoMonth) -> list[Declaration]:
    return [d for d in month.declarations if d.fee_period == CONFIG.period]


def test_valid_declarations_pass_every_checksum_bound_and_amount_rule(month: DemoMonth) -> None:
    valid = [d for d in month.declarations if d.defect is None]
    assert len(valid) > 900
    for declaration in valid:
        assert defects_of(declaration.data) == set(), declaration.declaration_id


def test_amount_due_is_the_sum_of_lines_without_the_notional_unit_share(month: DemoMonth) -> None:
    schemes: Counter[tuple[str, str | None]] = Counter()
    for declaration in (d for d in month.declarations if d.defect is None):
        data = declaration.data
        employer = sum(parse_yuan(line["employer_amount"]) for line in data["lines"])
        employee = sum(parse_yuan(line["employee_amount"]) for line in data["lines"])
        notional = data["unit_funding"] == "treasury_full"
        assert declaration.amount_due_fen == (employee if notional else employer + employee)
        schemes[(data["scheme"], data["unit_funding"])] += 1
    assert schemes[("enterprise_basic", None)] > schemes[("institution_basic", None)] > 0
    assert schemes[("occupational_annuity", "self")] > 0
    assert schemes[("occupational_annuity", "treasury_full")] > 0


def test_the_invalid_share_is_the_asked_percent_and_each_has_exactly_its_defect(
        month: DemoMonth) -> None:
    declarations = current(month)
    revisions = [d for d in declarations if d.data["revision"] == 0
                 and any(o.declaration_id == d.declaration_id and o.data["revision"] == 1
                         for o in declarations)]
    total = len(declarations) - len(revisions)  # a declaration counts once, not per revision
    invalid = [d for d in declarations if d.defect is not None]
    assert len(invalid) == (total * CONFIG.invalid_percent + 50) // 100
    assert set(Counter(d.defect for d in invalid)) == set(DEFECTS)
    for declaration in invalid:
        assert defects_of(declaration.data) == {declaration.defect}, declaration.declaration_id


def test_the_same_seed_gives_the_same_month_and_another_seed_another() -> None:
    def fingerprint(month: DemoMonth) -> list[tuple[str, str, dict[str, Any]]]:
        messages = (*month.early, *month.declaration_messages, *month.payment_messages,
                    *month.held, *month.appropriation_messages, *month.deadline_checks)
        return [(m.topic, m.event_id, m.data) for m in messages]

    small = FeedConfig(employers=60, seed=11)
    assert fingerprint(generate_month(small)) == fingerprint(generate_month(small))
    other = FeedConfig(employers=60, seed=12)
    assert fingerprint(generate_month(small)) != fingerprint(generate_month(other))


def test_every_fiscal_entity_declares_and_lines_average_the_asked_mean(month: DemoMonth) -> None:
    entities = {d.fiscal_entity_code for d in current(month)}
    assert entities == {*LEAGUES_AND_CITIES, REGION}
    enterprise_lines = [len(d.data["lines"]) for d in current(month)
                        if d.scheme == "enterprise_basic"]
    mean_x100 = 100 * sum(enterprise_lines) // len(enterprise_lines)
    assert 500 <= mean_x100 <= 700  # asked mean 6 lines


def test_each_record_is_a_readable_cloudevent_keyed_as_the_contracts_say(
        month: DemoMonth) -> None:
    keys: dict[str, str | None] = {"tax.contribution.declarations": "employer_uscc",
            "tax.contribution.payments": None, "finance.subsidy.appropriations":
            "fiscal_entity_code", "finance.subsidy.budgets": "fiscal_entity_code",
            "ops.commands": None}
    for m in (*month.declaration_messages[:50], *month.payment_messages[:50],
              *month.appropriation_messages, *month.deadline_checks, *month.budget_messages,
              *month.filing_messages, month.assessment):
        envelope = read_envelope(m.value("2025-03-01T10:00:00.000+08:00"), ENTITY_FIELDS)
        assert envelope.type == m.event_type
        key_field = keys[m.topic]
        if key_field is not None:
            assert m.key == m.data[key_field]


def _declared(month: DemoMonth) -> dict[str, list[Message]]:
    by_id: dict[str, list[Message]] = {}
    for m in month.declaration_messages:
        by_id.setdefault(m.data["declaration_id"], []).append(m)
    return by_id


def test_one_payment_comes_before_its_declaration_and_one_revision_before_payment(
        month: DemoMonth) -> None:
    declared = _declared(month)
    [early] = month.early
    assert early.data["declaration_id"] in declared  # published first, declared later
    revised = [ms for ms in declared.values() if len(ms) > 1]
    assert len(revised) == 1
    first, second = revised[0]
    assert (first.data["revision"], second.data["revision"]) == (0, 1)
    order = list(month.declaration_messages)
    assert order.index(second) == order.index(first) + 1  # same key, so same partition order
    [held] = month.held
    final = next(d for d in month.declarations if d.declaration_id == held.data["declaration_id"]
                 and d.data["revision"] == 1)
    assert parse_yuan(held.data["amount_paid"]) == final.amount_due_fen
    assert first.data["lines"] != second.data["lines"]


def test_payments_are_mostly_on_time_some_late_split_or_short(month: DemoMonth) -> None:
    by_id = {d.declaration_id: d for d in month.declarations if d.defect is None}
    paid: dict[str, list[dict[str, Any]]] = {}
    for m in (*month.early, *month.payment_messages, *month.held):
        paid.setdefault(m.data["declaration_id"], []).append(m.data)
    assert not set(paid) - set(by_id)  # nobody pays for an invalid declaration
    for declaration_id, payments in paid.items():
        declaration = by_id[declaration_id]
        total = sum(parse_yuan(p["amount_paid"]) for p in payments)
        due_on = f"{declaration.fee_period}-20"
        if declaration.behaviour == "underpaid":
            assert 0 < total < declaration.amount_due_fen
        else:
            assert total == declaration.amount_due_fen
        if declaration.behaviour == "on_time":
            assert all(p["paid_on"] <= due_on for p in payments)
        if declaration.behaviour == "late":
            assert all(p["paid_on"] > due_on for p in payments)
    behaviours = Counter(d.behaviour for d in current(month) if d.defect is None)
    assert behaviours["on_time"] > 5 * behaviours["late"] > 0
    assert behaviours["split"] > 0
    assert behaviours["underpaid"] > 0


def test_the_backlog_is_2018_2019_annuity_on_the_sample_rules_and_earns_top_ups(
        month: DemoMonth) -> None:
    backlog = [d for d in month.declarations if d.fee_period != CONFIG.period]
    assert len(backlog) >= 8
    for declaration in backlog:
        assert declaration.scheme == "occupational_annuity"
        assert "2018-01" <= declaration.fee_period <= "2019-12"
        assert declaration.data["declared_on"][:7] == declaration.fee_period
        bases = [parse_yuan(line["base"]) for line in declaration.data["lines"]]
        assert all(300_000 <= base <= 2_000_000 for base in bases)
    requests = {(r.kind, r.fiscal_entity_code, r.fee_period) for r in month.predicted_requests}
    for declaration in backlog:
        assert ("topup", declaration.fiscal_entity_code, declaration.fee_period) in requests
    assert not any(kind == "remittance" and entity == REGION for kind, entity, _ in requests)


def test_predicted_notice_ids_are_the_contracts_deterministic_ids(month: DemoMonth) -> None:
    for request in month.predicted_requests:
        expected = (remittance_id if request.kind == "remittance" else topup_assessment_id)(
            request.fiscal_entity_code, request.fee_period, 0)
        assert request.notice_id == notice_id_for_request(expected, 0)
    case = month.subsidy_cases[0]
    assert case.notice_id(1) == notice_id_for_appropriation(case.appropriation_id, 1)


def test_subsidies_settle_in_full_except_one_partial_one_failed_and_one_overpaid(
        month: DemoMonth) -> None:
    cases = month.subsidy_cases
    assert {(c.fiscal_entity_code, c.fund) for c in cases} == {
        (e, f) for e in LEAGUES_AND_CITIES for f in finance.FUNDS
        if e != month.oversight.missing_entity}
    assert Counter(c.outcome for c in cases) == {"full": 23, "partial": 1, "failed": 1,
                                                 "overpaid": 1}
    seen = {c.notice_id(0): finance.SeenNotice(c.notice_id(0), c.amount_fen,
                                                c.fiscal_entity_code) for c in cases}
    messages = {m.data["notice_id"]: m for m in finance.subsidy_settlements(cases, seen, 7)}
    for case in cases:
        sent = messages[case.notice_id(0)]
        assert sent.key == case.fiscal_entity_code
        if case.outcome == "failed":
            assert sent.event_type == "finance.transfer.failed.v1"
            continue
        expected = {"full": case.amount_fen, "partial": case.amount_fen // 2,
                    "overpaid": case.amount_fen + finance.OVERPAID_BY_FEN}[case.outcome]
        assert parse_yuan(sent.data["amount_settled"]) == expected
    failed = next(c for c in cases if c.outcome == "failed")
    replacement = {failed.notice_id(1): finance.SeenNotice(failed.notice_id(1), failed.amount_fen,
                                                           failed.fiscal_entity_code)}
    [settled] = finance.replacement_settlements(cases, replacement, 7)
    assert settled.data["notice_id"] == failed.notice_id(1)
    assert parse_yuan(settled.data["amount_settled"]) == failed.amount_fen


def test_deadline_checks_are_keyed_all_after_every_due_date(month: DemoMonth) -> None:
    checks = month.deadline_checks
    assert [m.data["as_of"] for m in checks] == ["2025-04-06", "2025-04-16"]
    for check in checks:
        assert check.key == "all"
        DeadlineCheckRequested.model_validate(check.data)


def test_the_progress_bar_is_plain_text_with_percent_label_and_counts() -> None:
    stream = io.StringIO()
    progress = Progress("declarations", 3000, stream)
    progress.advance(1560)
    assert stream.getvalue().splitlines()[-1] == (
        "[###############               ]  52% declarations 1560/3000")


def test_every_record_the_feeder_sends_fits_the_partner_contract_models(
        month: DemoMonth) -> None:
    models = event_models()
    seen = {c.notice_id(a): finance.SeenNotice(c.notice_id(a), c.amount_fen,
                                                c.fiscal_entity_code)
            for c in month.subsidy_cases for a in (0, 1)}
    seen |= {r.notice_id: finance.SeenNotice(r.notice_id, 12_345, r.fiscal_entity_code)
             for r in month.predicted_requests}
    settlements = (
        *finance.subsidy_settlements(month.subsidy_cases, seen, 7),
        *finance.replacement_settlements(month.subsidy_cases, seen, 7),
        *finance.request_settlements(month.predicted_requests, seen, dt.date(2025, 4, 10), 7),
    )
    messages = (*month.early, *month.declaration_messages, *month.payment_messages, *month.held,
                *month.appropriation_messages, *month.deadline_checks, *settlements,
                *month.budget_messages, *month.filing_messages, month.assessment)
    for m in messages:
        models[m.event_type].model_validate(m.data)
    assert {m.event_type for m in settlements} == {"finance.transfer.settled.v1",
                                                  "finance.transfer.failed.v1"}


def test_retirements_and_back_credits_fit_their_contracts_and_predict_their_notices(
        month: DemoMonth) -> None:
    models = event_models()
    people = month.personnel
    valid = [m for m in people.events if not m.data.get("backcredit_id", "").endswith("-ZERO")]
    for m in valid:
        models[m.event_type].model_validate(m.data)
        assert m.key == m.data["fiscal_entity_code"] or m.topic == "ops.commands"
    assert len(valid) == len(people.events) - 1  # the 0.00 back-credit breaks its contract
    assert (people.retirements, people.backcredits, people.rejected) == (5, 3, 2)
    kinds = Counter(p.kind for p in people.predicted)
    assert kinds == Counter({"funding": 6, "backcredit": 3})  # five retirements, one command
    assert [p.partly_then_failed for p in people.predicted].count(True) == 1
    commands = [m.data["year"] for m in people.notional_commands]
    assert commands == sorted(commands) == list(range(2019, 2025))


def test_the_personnel_part_is_the_same_for_a_seed() -> None:
    small = FeedConfig(employers=60, seed=11)
    first, again = generate_month(small).personnel, generate_month(small).personnel
    assert [(m.event_id, m.data) for m in first.events] == [
        (m.event_id, m.data) for m in again.events]
    assert first.predicted == again.predicted


def test_one_city_appropriates_nothing_and_one_below_its_budget_the_rest_their_budget(
        month: DemoMonth) -> None:
    budgets = {(m.key, m.data["fund"]): parse_yuan(m.data["amount_per_month"])
               for m in month.budget_messages}
    assert set(budgets) == {(e, f) for e in LEAGUES_AND_CITIES for f in finance.FUNDS}
    appropriated = {(m.key, m.data["fund"]): parse_yuan(m.data["amount_due"])
                    for m in month.appropriation_messages}
    gaps = {key: "missing" if key not in appropriated else "below"
            for key, budget_fen in budgets.items() if appropriated.get(key, 0) < budget_fen}
    expected = month.oversight
    assert gaps == {(expected.missing_entity, f): "missing" for f in finance.FUNDS} | {
        (expected.below_entity, oversight.BELOW_BUDGET_FUND): "below"}
    assert all(appropriated[key] == budgets[key] for key in appropriated if key not in gaps)


def test_one_enterprise_annuity_filing_is_over_the_employer_cap_the_others_within_caps(
        month: DemoMonth) -> None:
    assert len(month.filing_messages) == oversight.FILINGS
    for m in month.filing_messages:
        lines = m.data["lines"]
        payroll = parse_yuan(m.data["payroll_total"])
        employer = sum(parse_yuan(line["employer_amount"]) for line in lines)
        employee = sum(parse_yuan(line["employee_amount"]) for line in lines)
        over = m.data["declaration_id"] == month.oversight.rejected_filing
        assert (employer * 100 > 8 * payroll) is over
        assert over or (employer + employee) * 100 <= 12 * payroll
        average = employer / len(lines)
        assert all(parse_yuan(line["employer_amount"]) <= 5 * average for line in lines)


def test_one_annuity_line_declares_another_base_than_the_basic_pension_of_its_person(
        month: DemoMonth) -> None:
    bases: dict[tuple[str, str], dict[str, int]] = {}
    for d in current(month):
        if d.defect is None and d.scheme in ("institution_basic", "occupational_annuity"):
            for line in d.data["lines"]:
                person = (d.data["employer_uscc"], line["person_id"])
                bases.setdefault(person, {})[d.scheme] = parse_yuan(line["base"])
    differing = [key for key, by_scheme in bases.items() if len(set(by_scheme.values())) > 1]
    assert len(differing) == 1
    [shifted] = [d for d in current(month)
                 if d.declaration_id == month.oversight.mismatch_declaration]
    assert shifted.data["lines"][0]["person_id"] == differing[0][1]
    assert shifted.credited  # paid in full for the shifted amounts


def test_the_assessment_is_asked_for_the_month_as_of_the_second_deadline_check(
        month: DemoMonth) -> None:
    command = month.assessment
    AssessmentRequested.model_validate(command.data)
    assert (command.topic, command.key) == ("ops.commands", "all")
    assert command.data["as_of"] == month.deadline_checks[-1].data["as_of"]
    assert command.data["period"] == CONFIG.period


def test_the_feeder_counts_a_case_the_report_does_not_show_as_missing(month: DemoMonth) -> None:
    lines, missed = oversight.outcome_lines(ReportBuilder(CONFIG.period).build(), month.oversight)
    assert lines[0] == "budgets: no appropriation from none, below budget none, short 0.00"
    assert len(missed) == 4
    assert month.oversight.rejected_filing in missed[3]
