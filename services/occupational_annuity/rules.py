"""The occupational annuity rule sets as data: rules/production.json, and
rules/local-sample.json on top.

`production` ships only figures DOMAIN.md grades (its notional rate table is empty until users
enter the announced rates); `local` adds the clearly labelled sample rates so historical periods
can be exercised. Rates are decimal strings read into exact Fractions, never floats.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.occupational_annuity.model import Rate, Rules
from shared.contracts.wire import loads_strict

RuleSet = Literal["production", "local"]
RateText = Annotated[str, StringConstraints(pattern=r"^0\.[0-9]{4,8}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class _Parameter(_Strict):
    value: str | int
    effective_from: str
    grade: Literal["A", "B", "C", "U"]
    source: str


class _YearRate(_Strict):
    year: Annotated[int, Field(ge=2000, le=2200)]
    rate: RateText
    source: str


class _RuleFile(_Strict):
    rule_version: str
    official: bool
    label: str
    parameters: dict[str, _Parameter]
    notional_rates: list[_YearRate]


def _read(name: str) -> _RuleFile:
    raw = resources.files(__package__).joinpath("rules", name).read_bytes()
    return _RuleFile.model_validate(loads_strict(raw))


def load_rules(rule_set: RuleSet) -> Rules:
    """Production parameters; for `local`, the sample file's parameters and rates on top."""
    files = [_read("production.json")]
    if rule_set == "local":
        files.append(_read("local-sample.json"))
    parameters: dict[str, Any] = {}
    rates: dict[int, Rate] = {}
    for rule_file in files:
        parameters.update({name: p.value for name, p in rule_file.parameters.items()})
        rates.update({r.year: Rate(r.rate, Fraction(r.rate)) for r in rule_file.notional_rates})
    return _rules(files[-1].rule_version, parameters, rates)


def _rules(rule_version: str, parameters: dict[str, Any], rates: dict[int, Rate]) -> Rules:
    rules = Rules(
        rule_version=rule_version,
        investment_start=dt.date.fromisoformat(str(parameters["investment_start"])),
        remittance_request_day=int(parameters["remittance_request_day"]),
        remittance_due_day=int(parameters["remittance_due_day"]),
        topup_funding_days=int(parameters["topup_funding_days"]),
        notional_rates=rates,
        notional_funding_days=int(parameters["notional_funding_days"]),
        backcredit_funding_days=int(parameters["backcredit_funding_days"]),
    )
    # Checked at start-up (STYLE.md, "Limits on everything"): a bad file must not start.
    if not 1 <= rules.remittance_request_day <= rules.remittance_due_day <= 28:
        raise ValueError("need 1 <= remittance_request_day <= remittance_due_day <= 28")
    for name in ("topup_funding_days", "notional_funding_days", "backcredit_funding_days"):
        if not 1 <= getattr(rules, name) <= 366:
            raise ValueError(f"{name} must be within 1..366")
    return rules
