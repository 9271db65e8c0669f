"""Field types of the wire format and the mapping from validation errors to reason codes.

Every inbound model validates in strict mode: a JSON number is never coerced into a money string,
an integer never into a date. Wire patterns use explicit ASCII classes because `\\d` also matches
full-width and other scripts' digits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import islice
from types import UnionType
from typing import Annotated, Any, Final, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from shared.contracts.wire import echo_text

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
NO_CONTROL_CHARACTER_PATTERN: Final = r"^[^\x00-\x1f\x7f]*$"
"""CONTRACTS.md: text inside `data` never holds a control character (U+0000-U+001F, U+007F)."""

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTER_PATTERN)
]
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
    reasons: Annotated[list[Reason], Field(min_length=1, max_length=REASONS_MAX)]


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


REASONS_MAX: Final = 1_000
"""CONTRACTS.md, bounded work: a rejection names at most this many reasons."""


def cap_reasons(reasons: Sequence[dict[str, Any]], more: int = 0) -> list[dict[str, Any]]:
    """At most REASONS_MAX reasons: the first ones in order, then one TOO_MANY_REASONS naming how
    many more there were (`more` counts reasons a check did not even build, to bound its cost)."""
    if len(reasons) + more <= REASONS_MAX:
        return list(reasons)
    kept = list(reasons[: REASONS_MAX - 1])
    left = len(reasons) + more - len(kept)
    extra: dict[str, Any] = {"code": "TOO_MANY_REASONS", "field": None,
                             "message": f"{left} more reasons not listed"}
    if reasons and "line_no" in reasons[0]:
        extra["line_no"] = None
    return [*kept, extra]


def parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


Location = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
EXTRA_FIELD_MESSAGE: Final = "Extra inputs are not permitted"


@dataclass(frozen=True, slots=True)
class Checked(Generic[M]):
    """A contract's verdict on one payload: the model when nothing failed, else every reason
    (`more` counts unknown fields past REASONS_MAX that were counted but not itemised), and
    where each failure was (`failed`: pydantic locations, for checks that build on the shape)."""

    model: M | None
    reasons: list[dict[str, Any]]
    more: int
    failed: list[Location]


def validate_contract(
    model: type[M],
    data: Mapping[str, Any],
    codes_by_field: Mapping[str, str],
    *,
    line_kind: Literal["line", "plain"] = "plain",
    dotted: bool = False,
) -> Checked[M]:
    """Validate `data` against a contract at a cost bounded by the fields the contract knows.

    Unknown fields are found and taken out before pydantic sees the payload: pydantic builds an
    error object per unknown field, and 400,000 of them in one 4 MiB record took 2 s and 680 MB;
    counted here they cost a set difference, and only the first REASONS_MAX become reasons.
    """
    unknown: list[Location] = []
    cleaned, unknown_count = _without_unknown(model, data, (), unknown)
    errors: list[tuple[Location, str]] = []
    value: M | None = None
    try:
        value = model.model_validate(cleaned)
    except ValidationError as error:
        errors = [(tuple(item["loc"]), _message(item))
                  for item in error.errors(include_url=False, include_input=False)]
    errors.extend((location, EXTRA_FIELD_MESSAGE) for location in unknown)
    reasons = _reasons(errors, codes_by_field, data, line_kind, dotted)
    return Checked(value if not errors else None, reasons, unknown_count - len(unknown),
                   [location for location, _ in errors])


def _without_unknown(
    model: type[BaseModel], data: Mapping[str, Any], prefix: Location, found: list[Location]
) -> tuple[Mapping[str, Any], int]:
    """`data` without the fields `model` does not know, at every level of nested contracts;
    their locations are added to `found` up to REASONS_MAX, and their number returned."""
    allowed = _field_names(model)
    count = 0
    if not data.keys() <= allowed:
        count = len(data.keys() - allowed)
        found.extend(islice(((*prefix, key) for key in data if key not in allowed),
                            max(0, REASONS_MAX - len(found))))
        data = {key: value for key, value in data.items() if key in allowed}
    for name, (is_list, nested) in _nested_contracts(model).items():
        value = data.get(name)
        if is_list and isinstance(value, list):
            items: list[Any] | None = None
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    cleaned, more = _without_unknown(nested, item, (*prefix, name, index), found)
                    if more:
                        count += more
                        items = items if items is not None else list(value)
                        items[index] = cleaned
            if items is not None:
                data = {**data, name: items}
        elif not is_list and isinstance(value, dict):
            cleaned, more = _without_unknown(nested, value, (*prefix, name), found)
            if more:
                count += more
                data = {**data, name: cleaned}
    return data, count


@cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


@cache
def _nested_contracts(model: type[BaseModel]) -> dict[str, tuple[bool, type[BaseModel]]]:
    """The fields holding a contract object (False) or a list of them (True)."""
    nested: dict[str, tuple[bool, type[BaseModel]]] = {}
    for name, info in model.model_fields.items():
        for candidate in _union_members(info.annotation):
            if get_origin(candidate) is list:
                [item] = get_args(candidate) or (None,)
                item = _bare(item)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    nested[name] = (True, item)
            elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
                nested[name] = (False, candidate)
    return nested


def _bare(annotation: Any) -> Any:
    """The type inside `Annotated[...]`."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _union_members(annotation: Any) -> tuple[Any, ...]:
    annotation = _bare(annotation)
    if get_origin(annotation) in (Union, UnionType):
        return tuple(_bare(member) for member in get_args(annotation))
    return (annotation,)


def reasons_from_error(
    error: ValidationError,
    codes_by_field: Mapping[str, str],
    *,
    data: Mapping[str, Any] | None = None,
    line_kind: Literal["line", "plain"] = "plain",
    dotted: bool = False,
) -> list[dict[str, Any]]:
    """Turn pydantic errors into CONTRACTS.md reasons, one per failing field (see `_reasons`)."""
    errors = [(tuple(item["loc"]), _message(item))
              for item in error.errors(include_url=False, include_input=False)]
    return _reasons(errors, codes_by_field, data, line_kind, dotted)


def _reasons(
    errors: Sequence[tuple[Location, str]],
    codes_by_field: Mapping[str, str],
    data: Mapping[str, Any] | None,
    line_kind: Literal["line", "plain"],
    dotted: bool,
) -> list[dict[str, Any]]:
    """CONTRACTS.md reasons, one per failing field.

    The code comes from the innermost field name that has one of its own (`amount_paid` ->
    AMOUNT_INVALID); everything else is FIELD_INVALID. With `line_kind="line"`, errors inside
    `lines[i]` carry that line's `line_no` when it is an integer. With `dotted=True` the reason's
    `field` is the whole path (`source.entity_code`), so two nested objects with the same field
    names get a reason each; the code still comes from the innermost name. A field name is the
    partner's text when the field is unknown, so it is bounded (`echo_text`).
    """
    reasons: list[dict[str, Any]] = []
    seen: set[tuple[str, int | None, str]] = set()
    for loc, message in errors:
        location = [part for part in loc if isinstance(part, (str, int))]
        field = _field_name(location)
        code = codes_by_field.get(field, "FIELD_INVALID")
        if dotted:
            field = ".".join(part for part in location if isinstance(part, str)) or field
        field = echo_text(field)
        line_no = _line_no(location, data) if line_kind == "line" else None
        key = (code, line_no, field)
        if key in seen:
            continue
        seen.add(key)
        reason: dict[str, Any] = {"code": code, "field": field, "message": message}
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


def _message(item: Mapping[str, Any]) -> str:
    message = str(item.get("msg", "invalid"))
    return message[:200]
