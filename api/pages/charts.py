"""Charts as numbers: what ``templates/_charts.html`` draws as SVG, each with its table.

A chart here is data (labels, values, and the coordinates in the SVG's own ``viewBox``), never
pixels: the template writes ``<rect>``/``<path>`` elements from it and, beside every chart, a
table of the same figures, which is the chart's text alternative and what a screen reader or a
browser without SVG shows. Values are the ledger's decimal strings; they are turned into floats
only to place a mark, never to show a figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

BAR_CHART_WIDTH = 100.0
"""Bars are drawn in a 0..100 wide box; the SVG scales to its container."""


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    length: float
    """The bar's length in the chart's 0..100 box (the largest bar is 100)."""
    href: str | None = None


@dataclass(frozen=True, slots=True)
class BarChart:
    chart_id: str
    title: str
    bars: tuple[Bar, ...]

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def bar_chart(chart_id: str, title: str, rows: Iterable[tuple[str, int, str | None]]) -> BarChart:
    """Horizontal bars, one per ``(label, value, link)`` row, in the order given."""
    listed = [(label, value, href) for label, value, href in rows]
    largest = max((value for _, value, _ in listed), default=0)
    return BarChart(
        chart_id,
        title,
        tuple(
            Bar(label, value, (BAR_CHART_WIDTH * value / largest) if largest else 0.0, href)
            for label, value, href in listed
        ),
    )


# --- an indicator's baseline, targets and reports over time -------------------------------------

LINE_WIDTH = 600.0
LINE_HEIGHT = 220.0
MARGIN_LEFT = 70.0
MARGIN_RIGHT = 20.0
MARGIN_TOP = 15.0
MARGIN_BOTTOM = 35.0


@dataclass(frozen=True, slots=True)
class Reading:
    """One figure of an indicator: its kind (baseline, target, actual), date and value."""

    kind: str
    on: date
    value: str


@dataclass(frozen=True, slots=True)
class Mark:
    kind: str
    x: float
    y: float
    reading: Reading


@dataclass(frozen=True, slots=True)
class LineChart:
    chart_id: str
    title: str
    readings: tuple[Reading, ...]
    """Every figure, by date: the table under the chart."""
    marks: tuple[Mark, ...]
    actual_path: str
    """The SVG path through the baseline and the reported values, in date order."""
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    width: float = LINE_WIDTH
    height: float = LINE_HEIGHT
    left: float = MARGIN_LEFT
    bottom: float = LINE_HEIGHT - MARGIN_BOTTOM


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _short(number: Decimal) -> str:
    text = f"{number.normalize():f}"
    return text if len(text) <= 10 else f"{float(number):.3g}"


def line_chart(chart_id: str, title: str, readings: Sequence[Reading]) -> LineChart | None:
    """The indicator's figures placed on a date (x) by value (y) plane; None when no figure is
    a number (a qualitative indicator): the page then shows the table alone."""
    numeric = [(r, n) for r in readings if (n := _decimal(r.value)) is not None]
    if not numeric:
        return None
    ordered = sorted(readings, key=lambda r: (r.on, r.kind))
    first = min(r.on for r, _ in numeric).toordinal()
    last = max(r.on for r, _ in numeric).toordinal()
    low = min(Decimal(0), *(n for _, n in numeric))
    high = max(n for _, n in numeric)
    if high == low:
        high = low + 1
    span_x = max(last - first, 1)
    plot_width = LINE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = LINE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x_of(day: date) -> float:
        if last == first:
            return MARGIN_LEFT + plot_width / 2
        return MARGIN_LEFT + plot_width * (day.toordinal() - first) / span_x

    def y_of(number: Decimal) -> float:
        return MARGIN_TOP + plot_height * float((high - number) / (high - low))

    marks = tuple(
        Mark(r.kind, round(x_of(r.on), 2), round(y_of(n), 2), r)
        for r, n in sorted(numeric, key=lambda pair: (pair[0].on, pair[0].kind))
    )
    line = [m for m in marks if m.kind in {"baseline", "actual"}]
    path = " ".join(f"{'M' if i == 0 else 'L'}{m.x},{m.y}" for i, m in enumerate(line))
    y_ticks = tuple((round(y_of(v), 2), _short(v)) for v in (low, (low + high) / 2, high))
    x_ticks = (
        ((round(x_of(date.fromordinal(first)), 2), date.fromordinal(first).isoformat()),)
        if last == first
        else (
            (MARGIN_LEFT, date.fromordinal(first).isoformat()),
            (MARGIN_LEFT + plot_width, date.fromordinal(last).isoformat()),
        )
    )
    return LineChart(chart_id, title, tuple(ordered), marks, path, y_ticks, x_ticks)
