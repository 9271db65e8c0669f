"""The fiscal entities of DOMAIN.md ("Actors and codes") and the region-code rule, for reports."""

from __future__ import annotations

from typing import Final

REGION: Final = "150000"

# The 12 leagues/cities and the 2 separately planned cities: the 14 sources of subsidies.
LEAGUES_AND_CITIES: Final[dict[str, str]] = {
    "150100": "呼和浩特市",
    "150200": "包头市",
    "150300": "乌海市",
    "150400": "赤峰市",
    "150500": "通辽市",
    "150600": "鄂尔多斯市",
    "150700": "呼伦贝尔市",
    "150800": "巴彦淖尔市",
    "150900": "乌兰察布市",
    "152200": "兴安盟",
    "152500": "锡林郭勒盟",
    "152900": "阿拉善盟",
    "150781": "满洲里市",
    "152501": "二连浩特市",
}

# Report order: the 14 sources, then the region itself.
FISCAL_ENTITIES: Final[dict[str, str]] = {**LEAGUES_AND_CITIES, REGION: "内蒙古自治区"}

_SEPARATELY_PLANNED: Final = frozenset({"150781", "152501"})
_LEAGUE_PREFIXES: Final = frozenset(
    code[:4] for code in LEAGUES_AND_CITIES if code not in _SEPARATELY_PLANNED
)


def fiscal_entity_for_region(region_code: object) -> str | None:
    """DOMAIN.md: 150000, 150781 and 152501 are their own; else the league/city of the first
    four digits; anything else has no fiscal entity (REGION_UNKNOWN)."""
    if not isinstance(region_code, str) or len(region_code) != 6 or not region_code.isascii():
        return None
    if not region_code.isdigit():
        return None
    if region_code == REGION or region_code in _SEPARATELY_PLANNED:
        return region_code
    if region_code[:4] in _LEAGUE_PREFIXES:
        return region_code[:4] + "00"
    return None
