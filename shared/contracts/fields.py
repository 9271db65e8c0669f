"""Field types of the wire format and the mapping from validation errors to reason codes.

Every inbound model validates in strict mode: a JSON number is never coerced into a money string,
an integer never into a date. Wire patterns use explicit ASCII classes because `\\d` also matches
full-width and other scripts' digits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

MONEY_PATTERN: Final = r"^(0|[1-9][0-9]{0,11})\.[0-9]{2}$"
DATE_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
PERIOD_PATTERN: Final = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
ENTITY_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"


def _real_date(text: str) -> str:
    dt.date.fromisoformat(text)  # raises ValueError for 2025-02-30
    return text


Money = Annotated[str, StringConstraints(pattern=MONEY_PATTERN)]
"""Yuan with exactly two decimals, as a JSON string: "6523.00"."""

Date = Annotated[str, StringConstraints(pattern=DATE_PATTERN), AfterValidator(_real_date)]
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
EntityId = Annotated[str, StringConstraints(pattern=ENTITY_ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Code6 = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class Contract(BaseModel):
    """Base of every event payload: frozen, strict, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Reason(Contract):
    """One failing check of a rejected event."""

    code: str
    field: str | None
    message: str


class LineReason(Contract):
    """A failing check of a declaration; `line_no` is null for declaration-level checks."""

    code: str
    line_no: int | None
    field: str | None
    message: str


class CommandRejected(Contract):
    """`ops.command.rejected.v1`: a command a service cannot accept."""

    command_id: str
    service: str
    reasons: list[Reason]


class DeadlineCheckRequested(Contract):
    """`ops.deadline_check.requested.v1`."""

    command_id: EntityId
    as_of: Date


class NotionalInterestRequested(Contract):
    """`ops.notional_interest.requested.v1`."""

    command_id: EntityId
    year: Annotated[int, Field(ge=2000, le=2200)]


EVENT_MODELS: dict[str, type[Contract]] = {
    "ops.deadline_check.requested.v1": DeadlineCheckRequested,
    "ops.notional_interest.requested.v1": NotionalInterestRequested,
    "ops.command.rejected.v1": CommandRejected,
}


def parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def reasons_from_error(
    error: ValidationError,
    codes_by_field: Mapping[str, str],
    *,
    data: Mapping[str, Any] | None = None,
    line_kind: Literal["line", "plain"] = "plain",
    dotted: bool = False,
) -> list[dict[str, Any]]:
    """Turn pydantic errors into CONTRACTS.md reasons, one per failing field.

    The code comes from the innermost field name that has one of its own (`amount_paid` ->
    AMOUNT_INVALID); everything else is FIELD_INVALID. With `line_kind="line"`, errors inside
    `lines[i]` carry that line's `line_no` when it is an integer. With `dotted=True` the reason's
    `field` is the whole path (`source.entity_code`), so two nested objects with the same field
    names get a reason each; the code still comes from the innermost name.
    """
    reasons: list[dict[str, Any]] = []
    seen: set[tuple[str, int | None, str]] = set()
    for item in error.errors(include_url=False, include_input=False):
        location = [part for part in item["loc"] if isinstance(part, (str, int))]
        field = _field_name(location)
        code = codes_by_field.get(field, "FIELD_INVALID")
        if dotted:
            field = ".".join(part for part in location if isinstance(part, str)) or field
        line_no = _line_no(location, data) if line_kind == "line" else None
        key = (code, line_no, field)
        if key in seen:
            continue
        seen.add(key)
        reason: dict[str, Any] = {"code": code, "field": field, "message": _message(item)}
        if line_kind == "line":
            reason["line_no"] = line_no
        reasons.append(reason)
    return reasons


def _field_name(location: list[str | int]) -> str:
    names = [part for part in location if isinstance(part, str)]
    return names[-1] if names else "data"


def _line_no(location: list[str | int], data: Mapping[str, Any] | None) -> int | None:
    if len(location) < 2 or location[0] != "lines" or not isinstance(location[1], int):
        return None
    lines = (data or {}).get("lines")
    if not isinstance(lines, list) or location[1] >= len(lines):
        return None
    line = lines[location[1]]
    value = line.get("line_no") if isinstance(line, dict) else None
    return value if type(value) is int else None


def _message(item: Any) -> str:
    message = str(item.get("msg", "invalid"))
    return message[:200]
