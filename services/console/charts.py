"""Geometry of the server-side SVG charts (the templates draw it; no script runs in the page).

Money arrives as yuan strings from the report snapshots and is turned into fen once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from shared.cli.common import yuan
from shared.money import MoneyFormatError, parse_yuan

BAR_CHART_WIDTH: Final = 760
BAR_HEIGHT: Final = 22
BAR_GAP: Final = 6
LABEL_WIDTH: Final = 120
VALUE_WIDTH: Final = 130
LINE_CHART_WIDTH: Final = 760
LINE_CHART_HEIGHT: Final = 300
MARGIN: Final = 50
SERIES_COLOURS: Final = ("#1f6fb2", "#2a9d5b", "#c0392b", "#8e5ea2", "#d68910")


def fen_of(text: object) -> int:
    """A yuan string of a report snapshot in fen; anything else counts as 0."""
    try:
        return parse_yuan(text)  # type: ignore[arg-type]
    except MoneyFormatError:
        return 0


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: int


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    bar_height: int


def bar_chart(title: str, items: Sequence[tuple[str, int]]) -> BarChart:
    """Horizontal bars, one per (label, fen), scaled to the largest value."""
    largest = max((fen for _, fen in items), default=0)
    span = BAR_CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = tuple(
        Bar(label, yuan(fen), index * (BAR_HEIGHT + BAR_GAP),
            (fen * span // largest) if largest else 0)
        for index, (label, fen) in enumerate(items))
    return BarChart(title, bars, BAR_CHART_WIDTH, len(bars) * (BAR_HEIGHT + BAR_GAP),
                    LABEL_WIDTH, BAR_HEIGHT)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline>
    dots: tuple[tuple[int, int, str], ...]  # x, y, the value in yuan (a tooltip)


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    width: int
    height: int
    periods: tuple[tuple[int, str], ...]  # x, the period (axis labels)
    series: tuple[Series, ...]
    top_text: str
    baseline_y: int


def line_chart(title: str, periods: Sequence[str],
               series: Sequence[tuple[str, Sequence[int]]]) -> LineChart:
    """One line per (name, fen per period), on a common scale from 0."""
    largest = max((v for _, values in series for v in values), default=0)
    plot_w, plot_h = LINE_CHART_WIDTH - 2 * MARGIN, LINE_CHART_HEIGHT - 2 * MARGIN
    step = plot_w / max(len(periods) - 1, 1)

    def x(index: int) -> int:
        return round(MARGIN + index * step)

    def y(fen: int) -> int:
        return round(MARGIN + plot_h - (fen * plot_h / largest if largest else 0))

    drawn = tuple(
        Series(name, SERIES_COLOURS[n % len(SERIES_COLOURS)],
               " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
               tuple((x(i), y(v), yuan(v)) for i, v in enumerate(values)))
        for n, (name, values) in enumerate(series))
    # Every period labelled when they fit, else about a dozen evenly spaced.
    every = max(1, len(periods) // 12)
    labels = tuple((x(i), p) for i, p in enumerate(periods) if i % every == 0)
    return LineChart(title, LINE_CHART_WIDTH, LINE_CHART_HEIGHT, labels, drawn, yuan(largest),
                     MARGIN + plot_h)
