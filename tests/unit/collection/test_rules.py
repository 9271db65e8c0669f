"""Collection's rules are versioned data: graded production figures, the sample set beneath."""

from __future__ import annotations

import datetime as dt

import pytest

from services.collection.rules import load_rules

PRODUCTION = load_rules("production")
LOCAL = load_rules("local")


def test_production_rates_are_in_basis_points_from_their_effective_dates() -> None:
    for scheme in ("enterprise_basic", "institution_basic"):
        rates = PRODUCTION.rates_for(scheme, "2019-05")
        assert rates is not None
        assert (rates.employer_rate_bp, rates.employee_rate_bp) == (1600, 800)
        assert PRODUCTION.rates_for(scheme, "2019-04") is None
    annuity = PRODUCTION.rates_for("occupational_annuity", "2014-10")
    assert annuity is not None
    assert (annuity.employer_rate_bp, annuity.employee_rate_bp) == (800, 400)
    assert PRODUCTION.rates_for("occupational_annuity", "2014-09") is None


def test_production_bounds_cover_2025_only() -> None:
    bounds = PRODUCTION.bounds_for(2025)
    assert bounds is not None
    assert (bounds.base_floor_fen, bounds.base_cap_fen) == (490_700, 2_453_700)
    assert PRODUCTION.bounds_for(2024) is None
    assert PRODUCTION.bounds_for(2026) is None


def test_the_local_set_fills_2014_to_2024_with_sample_bounds_and_names_itself() -> None:
    for year in range(2014, 2025):
        bounds = LOCAL.bounds_for(year)
        assert bounds is not None
        assert (bounds.base_floor_fen, bounds.base_cap_fen) == (300_000, 2_000_000)
        assert LOCAL.version_of(bounds.layer) == "local-sample-2025.1"
    assert LOCAL.bounds_for(2013) is None
    assert LOCAL.bounds_for(2026) is None


def test_the_sample_set_never_overrides_a_production_figure() -> None:
    bounds = LOCAL.bounds_for(2025)
    assert bounds is not None
    assert (bounds.base_floor_fen, bounds.base_cap_fen) == (490_700, 2_453_700)
    assert LOCAL.version_of(bounds.layer) == "prod-2025.1"


def test_contributions_are_due_on_the_20th_of_the_fee_periods_own_month() -> None:
    assert PRODUCTION.due_on("2025-03") == (dt.date(2025, 3, 20), 0)
    assert PRODUCTION.due_on("2024-12") == (dt.date(2024, 12, 20), 0)


@pytest.mark.parametrize(
    ("region_code", "entity"),
    [
        ("150000", "150000"), ("150102", "150100"), ("150100", "150100"),
        ("150207", "150200"), ("150781", "150781"), ("150782", "150700"),
        ("152501", "152501"), ("152502", "152500"), ("152921", "152900"),
        ("152223", "152200"), ("150929", "150900"),
    ],
)
def test_region_codes_map_to_their_fiscal_entity(region_code: str, entity: str) -> None:
    assert PRODUCTION.fiscal_entities.entity_of(region_code) == entity


@pytest.mark.parametrize("region_code", ["150001", "151000", "152300", "140102", "110000",
                                         "153000", "000000"])
def test_codes_outside_the_twelve_leagues_and_cities_are_unknown(region_code: str) -> None:
    assert PRODUCTION.fiscal_entities.entity_of(region_code) is None
