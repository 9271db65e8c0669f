"""The table a report section is: a row per fiscal entity, totals, checks, and the helpers that
read figures out of event data (pure). Money is integer fen; yuan strings are parsed here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.cli.entities import FISCAL_ENTITIES
from shared.money import MoneyFormatError, parse_yuan

Kind = Literal["count", "money"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind


@dataclass(slots=True)
class Section:
    """One table of the report: a row per fiscal entity, totals, and what was checked."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: dict[str, dict[str, int]]
    totals: dict[str, int]
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return not self.problems

    def add(self, entity: str, values: dict[str, int], what: str) -> None:
        """Count values in the totals always, in a row only when the entity is one of the 15."""
        for name, value in values.items():
            self.totals[name] += value
        if entity not in self.rows:
            self.problems.append(f"{what} names fiscal entity {entity!r}, which is not one of "
                                 "the 15")
            return
        for name, value in values.items():
            self.rows[entity][name] += value


def fen_of(data: dict[str, Any], name: str) -> int:
    """A money field in fen; a malformed or missing one is 0 and flagged by the caller's checks."""
    try:
        return parse_yuan(data.get(name))  # type: ignore[arg-type]
    except MoneyFormatError:
        return 0


def empty_rows(columns: Iterable[Column]) -> dict[str, dict[str, int]]:
    names = [c.name for c in columns]
    return {entity: dict.fromkeys(names, 0) for entity in FISCAL_ENTITIES}


def dicts_of(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
