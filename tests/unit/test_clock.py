"""Clocks answer in Asia/Shanghai, and a fixed clock lets a test choose "today" exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from shared.clock import SHANGHAI, Clock, FixedClock, SystemClock

BEIJING_OFFSET = timedelta(hours=8)


def test_both_clocks_satisfy_the_clock_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), FixedClock(date(2025, 3, 20))]
    assert all(isinstance(clock, Clock) for clock in clocks)


def test_system_clock_tells_beijing_time() -> None:
    clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert now.tzinfo is SHANGHAI
    assert now.utcoffset() == BEIJING_OFFSET
    assert before <= now <= after


def test_system_clock_today_is_the_shanghai_date() -> None:
    clock = SystemClock()
    before = datetime.now(SHANGHAI).date()
    today = clock.today()
    after = datetime.now(SHANGHAI).date()
    assert today in {before, after}  # a run across midnight may see either day


def test_a_fixed_date_means_midnight_in_shanghai() -> None:
    clock = FixedClock(date(2025, 3, 20))
    assert clock.today() == date(2025, 3, 20)
    assert clock.now() == datetime(2025, 3, 20, tzinfo=SHANGHAI)
    assert clock.now().utcoffset() == BEIJING_OFFSET


def test_a_utc_evening_is_already_the_next_day_in_inner_mongolia() -> None:
    clock = FixedClock(datetime(2025, 3, 20, 17, 30, tzinfo=UTC))
    assert clock.today() == date(2025, 3, 21)
    assert clock.now() == datetime(2025, 3, 21, 1, 30, tzinfo=SHANGHAI)
    assert clock.now().tzinfo is SHANGHAI


def test_a_fixed_clock_does_not_move() -> None:
    moment = datetime(2025, 4, 10, 9, 0, tzinfo=timezone(BEIJING_OFFSET))
    clock = FixedClock(moment)
    assert clock.now() == clock.now() == moment
    assert clock.today() == date(2025, 4, 10)


def test_a_naive_datetime_is_refused_because_its_day_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2025, 3, 20, 12, 0))  # naive on purpose
