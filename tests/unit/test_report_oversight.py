"""The report's budgets, assessment, annuity base and enterprise annuity sections count the
period's events per fiscal entity and flag figures that do not agree."""

from __future__ import annotations

import uuid
from typing import Any

from shared.cli.entities import LEAGUES_AND_CITIES
from shared.cli.report import report_json
from shared.cli.report_model import Report, ReportBuilder
from shared.cli.report_section import Section

PERIOD = "2025-03"


def _event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"source": "test", "id": str(uuid.uuid4()), "type": event_type, "data": data}


def _build(*events: tuple[str, str, dict[str, Any]],
           declared: tuple[dict[str, Any], ...] = ()) -> Report:
    builder = ReportBuilder(PERIOD)
    for offset, (topic, event_type, data) in enumerate(events):
        builder.add(topic, offset, _event(event_type, data))
    for data in declared:
        builder.add_declared(data)
    return builder.build()


def _section(report: Report, key: str) -> Section:
    return next(s for s in report.sections if s.key == key)


def _gap(kind: str, entity: str, appropriated: str, short: str, *,
         as_of: str = "2025-04-06", budget_id: str = "B-1") -> tuple[str, str, dict[str, Any]]:
    return ("transfer.obligations", f"transfer.appropriation.{kind}.v1", {
        "fiscal_entity_code": entity, "fund": "institution_basic_pension", "period": PERIOD,
        "budget_id": budget_id, "amount_budgeted": "1000.00",
        "amount_appropriated": appropriated, "amount_short": short, "due_on": "2025-03-31",
        "as_of": as_of, "days_late": 6, "rule_version": "deadlines-2025"})


def _budget(entity: str, budget_id: str = "B-1") -> tuple[str, str, dict[str, Any]]:
    return ("transfer.obligations", "transfer.budget.recorded.v1", {
        "budget_id": budget_id, "revision": 0, "replaces_revision": None,
        "fiscal_entity_code": entity, "fund": "institution_basic_pension", "year": 2025,
        "amount_per_month": "1000.00", "document_no": "内财社〔2025〕3号"})


def test_budget_gaps_of_the_latest_check_are_counted_and_the_shortfall_summed() -> None:
    report = _build(_budget("150200"), _budget("150300", "B-2"),
                    _gap("missing", "150200", "0.00", "1000.00", as_of="2025-04-06"),
                    _gap("missing", "150200", "0.00", "1000.00", as_of="2025-04-16"),
                    _gap("below_budget", "150300", "400.00", "600.00", as_of="2025-04-16",
                         budget_id="B-2"))
    budgets = _section(report, "budgets")
    assert budgets.reconciles, budgets.problems
    assert budgets.rows["150200"] == {"budgeted": 100_000, "months_missing": 1,
                                      "months_below": 0, "appropriated": 0, "short": 100_000}
    assert budgets.totals["months_below"] == 1
    assert budgets.totals["short"] == 160_000
    assert "2025-04-16" in budgets.title


def test_a_gap_whose_shortfall_is_not_budget_minus_appropriated_does_not_reconcile() -> None:
    budgets = _section(_build(_budget("150200"),
                              _gap("below_budget", "150200", "400.00", "500.00")), "budgets")
    assert not budgets.reconciles
    assert any("short 500.00" in p for p in budgets.problems)


def _assessment(entity: str, kind: str, **figures: Any) -> tuple[str, str, dict[str, Any]]:
    topic = {"collection": "collection.declarations", "transfer": "transfer.obligations",
             "annuity": "annuity.ledger"}[kind]
    header = {"assessment_id": str(uuid.uuid4()), "command_id": figures.pop("command_id", "A-1"),
              "fiscal_entity_code": entity, "period": PERIOD,
              "as_of": figures.pop("as_of", "2025-04-30"), "rule_version": f"{kind}-2025"}
    return topic, f"{kind}.assessment.computed.v1", header | figures


def _transfer(entity: str, **figures: Any) -> tuple[str, str, dict[str, Any]]:
    base = {"obligations": 2, "forwarded_in_full": 2, "forwarded_on_time": 1,
            "share_forwarded_on_time_bp": 5000, "amount_due": "100.00",
            "amount_settled": "100.00", "amount_short": "0.00", "shortfall_days_open": 3,
            "appropriations_missing": 0, "appropriations_below_budget": 0}
    return _assessment(entity, "transfer", **(base | figures))


def test_the_assessment_shows_the_latest_commands_figures_and_rule_versions() -> None:
    old = [_transfer(e, command_id="A-0", as_of="2025-04-20", obligations=9,
                     forwarded_in_full=9, forwarded_on_time=9, share_forwarded_on_time_bp=10000)
           for e in LEAGUES_AND_CITIES]
    new = [_transfer(e) for e in LEAGUES_AND_CITIES]
    collection = _assessment("150200", "collection", declarations_registered=4,
                             declarations_paid_on_time=3, share_paid_on_time_bp=7500,
                             amount_due="40.00", amount_paid="30.00",
                             amount_outstanding="10.00", late_fees="0.10",
                             annuity_base_findings_open=1, institution_members=5,
                             institution_members_without_annuity=2)
    report = _build(*old, *new, collection)
    transfer = _section(report, "assessment_transfer")
    assert transfer.reconciles, transfer.problems
    assert transfer.totals["obligations"] == 28
    assert "A-1" in transfer.title
    assert transfer.notes == ["rule_version: transfer-2025"]
    rows = _section(report, "assessment_collection").rows
    assert rows["150200"]["outstanding"] == 1000
    assert rows["150200"]["findings_open"] == 1


def test_an_assessment_without_every_league_or_with_a_wrong_share_does_not_reconcile() -> None:
    answers = [_transfer(e) for e in list(LEAGUES_AND_CITIES)[1:]]
    answers[0] = _transfer(answers[0][2]["fiscal_entity_code"], share_forwarded_on_time_bp=9000)
    problems = _section(_build(*answers), "assessment_transfer").problems
    assert any("0 transfer answers" in p for p in problems)
    assert any("share_forwarded_on_time_bp 9000" in p for p in problems)


def test_assessed_missing_months_must_match_the_deadline_check_of_the_same_date() -> None:
    answers = [_transfer(e, as_of="2025-04-16") for e in LEAGUES_AND_CITIES]
    report = _build(_budget("150200"), _gap("missing", "150200", "0.00", "1000.00",
                                            as_of="2025-04-16"), *answers)
    transfer = _section(report, "assessment_transfer")
    assert any("150200" in p and "found 1" in p for p in transfer.problems)


def _finding(finding_id: str, event: str, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    base = {"finding_id": finding_id, "employer_uscc": "91150200MA0N5A7B6L",
            "fiscal_entity_code": "150200", "fee_period": PERIOD,
            "person_id": "150102199001010019", "rule_version": "bases-2025"}
    if event == "resolved":
        return ("collection.declarations", "collection.annuity_base.resolved.v1",
                base | {"base": "5000.00"} | fields)
    return ("collection.declarations", "collection.annuity_base.finding.v1", base | {
        "kind": "BASE_MISMATCH", "annuity_declaration_id": "D-1", "annuity_line_no": 1,
        "annuity_base": "5200.00", "basic_declaration_id": "D-2", "basic_base": "5000.00"}
        | fields)


def test_annuity_base_findings_count_unresolved_by_kind_and_resolved_by_their_last_event() -> None:
    report = _build(_finding("F1", "finding"), _finding("F1", "resolved"),
                    _finding("F2", "finding"),
                    _finding("F3", "finding", kind="BASIC_PENSION_MISSING",
                             basic_declaration_id=None, basic_base=None),
                    _finding("F4", "finding", fee_period="2025-02"))
    bases = _section(report, "annuity_bases")
    assert bases.reconciles, bases.problems
    assert bases.rows["150200"] == {"findings": 3, "unresolved": 2, "base_mismatch": 1,
                                    "basic_missing": 1, "resolved": 1}


def test_a_base_mismatch_of_equal_bases_does_not_reconcile() -> None:
    bases = _section(_build(_finding("F1", "finding", basic_base="5200.00")), "annuity_bases")
    assert any("equal bases" in p for p in bases.problems)


def _filing(declaration_id: str, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    return ("collection.declarations", "collection.enterprise_annuity.registered.v1", {
        "declaration_id": declaration_id, "revision": 0, "replaces_revision": None,
        "employer_uscc": "91150200MA0N5A7B6L", "region_code": "150203",
        "fiscal_entity_code": "150200", "fee_period": PERIOD, "plan_year": 2025,
        "declared_on": "2025-03-12", "backfill": False, "line_count": 1,
        "payroll_total": "20000.00", "employer_total": "800.00", "employee_total": "400.00",
        "plan_year_payroll_total": "20000.00", "plan_year_employer_total": "800.00",
        "plan_year_employee_total": "400.00", "rule_version": "caps-2018"} | fields)


def test_enterprise_annuity_filings_are_counted_and_rejections_placed_by_their_filing() -> None:
    rejected = ("collection.declarations", "collection.enterprise_annuity.rejected.v1", {
        "declaration_id": "EA-2", "revision": 0, "reasons": [
            {"code": "EMPLOYER_SHARE_OVER_CAP", "line_no": None, "field": "payroll_total",
             "message": "over 8%"},
            {"code": "MEMBER_ALLOCATION_OVER_CAP", "line_no": 1, "field": "employer_amount",
             "message": "over 5 times"}]})
    declared = {"declaration_id": "EA-2", "revision": 0, "region_code": "150402",
                "fee_period": PERIOD}
    builder = ReportBuilder(PERIOD)
    for offset, (topic, event_type, data) in enumerate((_filing("EA-1"), rejected)):
        builder.add(topic, offset, _event(event_type, data))
    assert builder.unattributed_rejections() == {"EA-2"}
    builder.add_declared(declared)
    section = _section(builder.build(), "enterprise_annuity")
    assert section.reconciles, section.problems
    assert section.rows["150200"] == {"registered": 1, "rejected": 0, "payroll": 2_000_000,
                                      "employer": 80_000, "employee": 40_000}
    assert section.rows["150400"]["rejected"] == 1
    assert section.notes == ["rejection codes (filings): EMPLOYER_SHARE_OVER_CAP 1, "
                             "MEMBER_ALLOCATION_OVER_CAP 1"]


def test_a_filing_whose_plan_year_total_is_below_its_own_does_not_reconcile() -> None:
    section = _section(_build(_filing("EA-1", plan_year_employer_total="700.00")),
                       "enterprise_annuity")
    assert not section.reconciles


def test_the_json_report_carries_the_new_sections_with_their_notes() -> None:
    sections = report_json(_build(_filing("EA-1")))["sections"]
    assert {"budgets", "assessment_collection", "assessment_transfer", "assessment_annuity",
            "annuity_bases", "enterprise_annuity"} <= set(sections)
    assert sections["enterprise_annuity"]["totals"]["employer"] == "800.00"
