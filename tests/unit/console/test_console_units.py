"""The console's pure parts: sign-in limits and sessions, secret files, what the read model
keeps of an event, a Chinese label for every report section and column, chart geometry, and
templates that escape what they show."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from services.console import auth, charts, domain, labels
from services.console.web import templates
from shared.cli.report_model import ReportBuilder
from shared.contracts.wire import Envelope


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_five_failures_from_an_address_lock_it_out_for_the_rest_of_the_minute() -> None:
    clock = Clock()
    limiter = auth.Limiter(clock=clock)
    for _ in range(auth.FAILURES_PER_ADDRESS_MAX):
        assert limiter.retry_after_s("127.0.0.1") == 0
        limiter.record("127.0.0.1", succeeded=False)
        clock.now_s += 1
    assert limiter.retry_after_s("127.0.0.1") == 55
    assert limiter.retry_after_s("10.0.0.9") == 0  # another address is not locked out
    clock.now_s += 55
    assert limiter.retry_after_s("127.0.0.1") == 0


def test_attempts_overall_are_bounded_whatever_the_address() -> None:
    clock = Clock()
    limiter = auth.Limiter(clock=clock)
    for n in range(auth.ATTEMPTS_OVERALL_MAX):
        limiter.record(f"10.0.0.{n}", succeeded=True)
    assert limiter.retry_after_s("10.9.9.9") == 60
    assert limiter.failures == {}  # successes leave nothing behind


def test_a_session_is_valid_only_signed_with_the_key_and_not_yet_expired(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = auth.Sessions("p" * 20, "k" * 32)
    cookie = sessions.issue()
    assert sessions.valid(cookie)
    assert not sessions.valid(None)
    assert not sessions.valid(cookie[:-2] + "xx")
    assert not auth.Sessions("p" * 20, "other-key" * 4).valid(cookie)
    assert sessions.password_matches("p" * 20)
    assert not sessions.password_matches("p" * 19)
    later = dt.datetime.now(dt.UTC).timestamp() + auth.SESSION_AGE_S + 5
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert not sessions.valid(cookie)


def test_a_secret_file_must_be_private_and_long_enough(tmp_path: Path) -> None:
    path = tmp_path / "console.password"
    path.write_text("0123456789abcdef0123\n")
    path.chmod(0o644)
    with pytest.raises(auth.AuthConfigError, match="readable by others"):
        auth.read_secret(path, "console password")
    path.chmod(0o600)
    assert auth.read_secret(path, "console password") == "0123456789abcdef0123"
    path.write_text("short")
    with pytest.raises(auth.AuthConfigError, match="fewer than 16"):
        auth.read_secret(path, "console password")
    with pytest.raises(auth.AuthConfigError, match="cannot read"):
        auth.read_secret(tmp_path / "missing", "console password")


def _envelope(event_type: str, data: dict[str, Any]) -> Envelope:
    return Envelope(id="e1", source="/fund_transfer", type=event_type,
                    time="2025-04-06T10:00:00+08:00", subject=None, correlation_id="c1",
                    data=data, entity_id="x", payload_hash=b"\0" * 32)


def test_a_notice_belongs_to_its_source_entity_and_period_and_names_what_it_covers() -> None:
    row = domain.event_row("transfer.notices", 3, 17, _envelope("transfer.notice.issued.v1", {
        "notice_id": "N1", "period": "2025-03", "covers": ["R1", "R2"], "replaces": None,
        "source_account": {"entity_code": "150200", "kind": "special"}}))
    assert (row.fiscal_entity_code, row.period, row.keys) == ("150200", "2025-03",
                                                             ("N1", "R1", "R2"))
    assert row.declaration_id is None
    assert not row.touches_all_periods
    topup = domain.event_row("annuity.ledger", 0, 1, _envelope(
        "annuity.interest_topup.allocated.v1", {"assessment_id": "T1", "fee_period": "2018-06"}))
    assert topup.touches_all_periods  # every period's report counts all top-ups


def test_credits_fundings_and_their_notices_change_every_periods_notional_figures() -> None:
    """The notional, fundings and back-credits sections count every fee period to date."""
    def row(event_type: str, data: dict[str, Any]) -> domain.EventRow:
        return domain.event_row("annuity.ledger", 0, 1, _envelope(event_type, data))

    assert row("annuity.contribution.credited.v1", {"period": "2018-06"}).touches_all_periods
    assert row("annuity.notional_funding.completed.v1", {"funding_id": "F1"}).touches_all_periods
    assert row("annuity.backcredit.requested.v1", {"backcredit_id": "B1"}).touches_all_periods
    settled = {"notice_id": "N1", "covers": ["R1"]}
    assert row("transfer.notice.settled.v1",
               {**settled, "purpose": "annuity_notional_funding"}).touches_all_periods
    assert not row("transfer.notice.settled.v1",
                   {**settled, "purpose": "annuity_remittance"}).touches_all_periods
    assert not row("annuity.remittance.requested.v1", {"period": "2025-03"}).touches_all_periods


def test_the_console_reads_the_report_topics_and_every_services_dead_letters() -> None:
    assert set(domain.REPORT_TOPICS) <= set(domain.CONSUMED_TOPICS)
    assert "collection.declaration.registered.v1" in domain.HANDLED_TYPES
    assert "tax.contribution.declared.v1" in domain.HANDLED_TYPES
    assert domain.DEAD_LETTER_TOPICS == ("collection.dlq", "fund_transfer.dlq",
                                         "occupational_annuity.dlq")


def test_every_section_and_column_of_the_report_has_a_chinese_label() -> None:
    sections = ReportBuilder("2025-03").build().sections
    assert {s.key for s in sections} <= set(labels.SECTIONS)
    assert {c.name for s in sections for c in s.columns} <= set(labels.COLUMNS)
    assert labels.section("budgets", "?").startswith("预算")
    assert labels.section("assessment_transfer", "?").startswith("考核")
    assert labels.section("annuity_bases", "?").startswith("年金基数比对")
    assert labels.section("enterprise_annuity", "?").startswith("企业年金")


def test_bars_scale_to_the_largest_value_and_show_yuan() -> None:
    chart = charts.bar_chart("欠缴", [("呼和浩特市", 150_00), ("包头市", 0), ("乌海市", 300_00)])
    widths = [bar.width for bar in chart.bars]
    assert widths[2] == charts.BAR_CHART_WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH
    assert widths[0] * 2 == widths[2]
    assert widths[1] == 0
    assert [bar.value_text for bar in chart.bars] == ["150.00", "0.00", "300.00"]
    assert charts.bar_chart("空", [("呼和浩特市", 0)]).bars[0].width == 0


def test_a_line_starts_at_the_baseline_for_zero_and_reaches_the_top_for_the_largest() -> None:
    chart = charts.line_chart("趋势", ["2025-01", "2025-02"], [("应缴", [0, 500_00])])
    [series] = chart.series
    assert series.points == (f"{charts.MARGIN},{chart.baseline_y} "
                             f"{charts.LINE_CHART_WIDTH - charts.MARGIN},{charts.MARGIN}")
    assert chart.top_text == "500.00"
    assert charts.fen_of("12.34") == 1234
    assert charts.fen_of(None) == 0


def test_templates_escape_what_they_show_and_mask_identity_numbers() -> None:
    environment = templates()
    rendered = environment.from_string("{{ value }}|{{ value|masked }}").render(
        value='<script>alert("150102199001010019")</script>')
    assert "<script>" not in rendered
    assert "&lt;script&gt;" in rendered
    assert "1501**********0019" in rendered.split("|")[1]
    assert "150102199001010019" not in rendered.split("|")[1]
