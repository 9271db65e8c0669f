"""The time source, passed in rather than read, so that domain code and tests control "today".

Business dates (due dates, days late) are Inner Mongolia dates, and the region keeps Beijing time,
so both clocks answer in Asia/Shanghai whatever the host's time zone is.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@runtime_checkable
class Clock(Protocol):
    """Anything that can say what day and moment it is in Asia/Shanghai."""

    def today(self) -> date: ...

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in Asia/Shanghai."""

    def today(self) -> date:
        return self.now().date()

    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class FixedClock:
    """A clock stopped at one moment, for tests and for replaying a given day.

    A date means midnight at the start of that day in Asia/Shanghai; a datetime must carry its
    offset (a naive one is ambiguous) and is converted to Asia/Shanghai.
    """

    __slots__ = ("_moment",)

    def __init__(self, moment: date | datetime) -> None:
        self._moment = _in_shanghai(moment)

    def today(self) -> date:
        return self._moment.date()

    def now(self) -> datetime:
        return self._moment


def _in_shanghai(moment: date | datetime) -> datetime:
    if isinstance(moment, datetime):  # before the date check: datetime is a date subclass
        if moment.utcoffset() is None:
            raise ValueError(f"FixedClock needs an aware datetime, got naive {moment.isoformat()}")
        return moment.astimezone(SHANGHAI)
    return datetime.combine(moment, time.min, tzinfo=SHANGHAI)
