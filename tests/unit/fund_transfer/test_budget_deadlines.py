"""A budgeted month's appropriation is due on its last day unless the rules name another day."""

from __future__ import annotations

import datetime as dt

from services.fund_transfer.rules import Deadlines, load_deadlines


def test_the_packaged_rule_is_the_last_day_of_the_month_and_is_versioned() -> None:
    deadlines = load_deadlines()
    assert deadlines.appropriation_due_on("2024-02") == dt.date(2024, 2, 29)
    assert deadlines.appropriation_due_on("2025-02") == dt.date(2025, 2, 28)
    assert deadlines.appropriation_due_on("2025-12") == dt.date(2025, 12, 31)
    assert deadlines.rule_version == "ft-deadlines-2025.1"


def test_a_configured_day_is_the_due_day_of_every_month() -> None:
    assert Deadlines("v", 20).appropriation_due_on("2025-03") == dt.date(2025, 3, 20)
