"""Collection's rule sets as versioned data: rules/production.json, and rules/local-sample.json.

`production` ships only the figures DOMAIN.md grades; `local` adds the clearly labelled sample set
underneath it, filling only what production lacks (a year, a period), so historical periods can
be exercised. Every lookup answers which layer it came from, so a declaration names the rule set
that produced its figures (`rule_version`) and a sample figure never passes for an official one.
Rates are integer basis points and bounds integer fen: no float anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.tax import Scheme
from shared.contracts.wire import loads_strict

RuleSet = Literal["production", "local"]
Grade = Literal["A", "B", "C", "U"]
DUE_DAY_MAX = 28  # a day every month has
_Day = Annotated[int, Field(ge=1, le=DUE_DAY_MAX)]
_Fen = Annotated[int, Field(ge=1, le=10**14)]
_BasisPoints = Annotated[int, Field(ge=0, le=10_000)]
_DateText = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
_PeriodText = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class _RateRow(_Strict):
    scheme: Scheme
    effective_from: _DateText
    employer_rate_bp: _BasisPoints
    employee_rate_bp: _BasisPoints
    grade: Grade
    source: str


class _BoundsRow(_Strict):
    year: Annotated[int, Field(ge=2000, le=2200)]
    base_floor_fen: _Fen
    base_cap_fen: _Fen
    grade: Grade
    source: str


class _DueDay(_Strict):
    default: _Day | None = None
    by_period: dict[_PeriodText, _Day]
    grade: Grade
    source: str


class _EnterpriseAnnuityCapsRow(_Strict):
    effective_from: _DateText
    employer_cap_bp: _BasisPoints
    total_cap_bp: _BasisPoints
    member_allocation_ratio_max: Annotated[int, Field(ge=1, le=100)]
    grade: Grade
    source: str


class _FiscalEntities(_Strict):
    region: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    league_city_prefixes: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]]
    separately_planned: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]]
    grade: Grade
    source: str


class _RuleFile(_Strict):
    rule_version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    official: bool
    label: str
    rates: list[_RateRow]
    base_bounds: list[_BoundsRow]
    due_day: _DueDay | None = None
    fiscal_entities: _FiscalEntities | None = None
    enterprise_annuity_caps: list[_EnterpriseAnnuityCapsRow] = []


@dataclass(frozen=True, slots=True)
class Rates:
    """Employer and employee rates of a scheme for a fee period, in basis points (16% = 1600)."""

    employer_rate_bp: int
    employee_rate_bp: int
    layer: int


@dataclass(frozen=True, slots=True)
class BaseBounds:
    """The per-person base range of a year, inclusive, in fen."""

    base_floor_fen: int
    base_cap_fen: int
    layer: int


@dataclass(frozen=True, slots=True)
class EnterpriseAnnuityCaps:
    """Enterprise annuity (人社部令第36号): over the plan year the employer's contributions at most
    `employer_cap_bp` of payroll and employer + employee at most `total_cap_bp`; in a period, no
    member's employer allocation above `member_allocation_ratio_max` times the average."""

    employer_cap_bp: int
    total_cap_bp: int
    member_allocation_ratio_max: int
    layer: int


@dataclass(frozen=True, slots=True)
class RuleLayer:
    """One rule file, ready for lookups; rates per scheme newest first."""

    rule_version: str
    rates: Mapping[str, tuple[tuple[dt.date, Rates], ...]]
    base_bounds: Mapping[int, BaseBounds]
    due_day_by_period: Mapping[str, int]
    due_day_default: int | None
    enterprise_annuity_caps: tuple[tuple[dt.date, EnterpriseAnnuityCaps], ...] = ()


@dataclass(frozen=True, slots=True)
class FiscalEntities:
    """DOMAIN.md "Actors and codes": which region codes exist and whose treasury they belong to."""

    region: str
    league_city_prefixes: frozenset[str]
    separately_planned: frozenset[str]

    def entity_of(self, region_code: str) -> str | None:
        """The fiscal entity of a 6-digit region code, or None when it is not in Inner Mongolia."""
        if region_code == self.region or region_code in self.separately_planned:
            return region_code
        if region_code[:4] in self.league_city_prefixes:
            return region_code[:4] + "00"
        return None


@dataclass(frozen=True, slots=True)
class Rules:
    """Layered lookups: layer 0 is production, later layers fill only what earlier ones lack."""

    layers: tuple[RuleLayer, ...]
    fiscal_entities: FiscalEntities
    # Answers per (scheme, fee period): a declaration asks once, a burst asks the same again.
    _rates_memo: dict[tuple[str, str], Rates | None] = field(
        default_factory=dict, compare=False, repr=False)
    _due_memo: dict[str, tuple[dt.date, int]] = field(
        default_factory=dict, compare=False, repr=False)

    def rates_for(self, scheme: str, fee_period: str) -> Rates | None:
        """Rates in force on the first day of the fee period, or None (SCHEME_NOT_CONFIGURED)."""
        key = (scheme, fee_period)
        if key not in self._rates_memo:
            self._rates_memo[key] = self._rates_for(scheme, fee_period)
        return self._rates_memo[key]

    def _rates_for(self, scheme: str, fee_period: str) -> Rates | None:
        first_day = dt.date(int(fee_period[:4]), int(fee_period[5:7]), 1)
        for layer in self.layers:
            for effective_from, rates in layer.rates.get(scheme, ()):
                if effective_from <= first_day:
                    return rates
        return None

    def bounds_for(self, year: int) -> BaseBounds | None:
        """The base range of a year, or None (BASE_BOUNDS_NOT_CONFIGURED)."""
        for layer in self.layers:
            if year in layer.base_bounds:
                return layer.base_bounds[year]
        return None

    def due_on(self, fee_period: str) -> tuple[dt.date, int]:
        """Due date of a fee period (the due day of its own month) and the layer that set it."""
        if fee_period not in self._due_memo:
            self._due_memo[fee_period] = self._due_on(fee_period)
        return self._due_memo[fee_period]

    def _due_on(self, fee_period: str) -> tuple[dt.date, int]:
        year, month = int(fee_period[:4]), int(fee_period[5:7])
        for index, layer in enumerate(self.layers):
            if fee_period in layer.due_day_by_period:
                return dt.date(year, month, layer.due_day_by_period[fee_period]), index
        for index, layer in enumerate(self.layers):
            if layer.due_day_default is not None:
                return dt.date(year, month, layer.due_day_default), index
        raise AssertionError("load_rules guarantees a default due day")

    def enterprise_annuity_caps_for(self, fee_period: str) -> EnterpriseAnnuityCaps | None:
        """The caps in force on the first day of the fee period (SCHEME_NOT_CONFIGURED: None)."""
        first_day = dt.date(int(fee_period[:4]), int(fee_period[5:7]), 1)
        for layer in self.layers:
            for effective_from, caps in layer.enterprise_annuity_caps:
                if effective_from <= first_day:
                    return caps
        return None

    def version_of(self, layer: int) -> str:
        return self.layers[layer].rule_version


def _read(name: str) -> _RuleFile:
    raw = resources.files(__package__ or "services.collection").joinpath("rules", name).read_bytes()
    return _RuleFile.model_validate(loads_strict(raw))


def _layer(rule_file: _RuleFile, index: int) -> RuleLayer:
    rates: dict[str, list[tuple[dt.date, Rates]]] = {}
    for row in rule_file.rates:
        entry = (dt.date.fromisoformat(row.effective_from),
                 Rates(row.employer_rate_bp, row.employee_rate_bp, index))
        rates.setdefault(row.scheme, []).append(entry)
    bounds = {row.year: BaseBounds(row.base_floor_fen, row.base_cap_fen, index)
              for row in rule_file.base_bounds}
    for year, bound in bounds.items():
        if bound.base_floor_fen > bound.base_cap_fen:
            raise ValueError(f"{rule_file.rule_version}: base floor above cap in {year}")
    due_day = rule_file.due_day
    return RuleLayer(
        rule_version=rule_file.rule_version,
        rates={scheme: tuple(sorted(rows, key=lambda r: r[0], reverse=True))
               for scheme, rows in rates.items()},
        base_bounds=bounds,
        due_day_by_period=dict(due_day.by_period) if due_day else {},
        due_day_default=due_day.default if due_day else None,
        enterprise_annuity_caps=tuple(sorted(
            ((dt.date.fromisoformat(row.effective_from),
              EnterpriseAnnuityCaps(row.employer_cap_bp, row.total_cap_bp,
                                    row.member_allocation_ratio_max, index))
             for row in rule_file.enterprise_annuity_caps),
            key=lambda entry: entry[0], reverse=True)),
    )


def load_rules(rule_set: RuleSet) -> Rules:
    """Production rules; for `local`, the sample set underneath. Checked here, at start-up."""
    files = [_read("production.json")]
    if rule_set == "local":
        files.append(_read("local-sample.json"))
    production = files[0]
    if production.fiscal_entities is None or production.due_day is None:
        raise ValueError("production.json must configure fiscal_entities and due_day")
    if production.due_day.default is None:
        raise ValueError("production.json must configure a default due day")
    entities = production.fiscal_entities
    return Rules(
        layers=tuple(_layer(rule_file, index) for index, rule_file in enumerate(files)),
        fiscal_entities=FiscalEntities(
            region=entities.region,
            league_city_prefixes=frozenset(entities.league_city_prefixes),
            separately_planned=frozenset(entities.separately_planned),
        ),
    )
