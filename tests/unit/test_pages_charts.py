"""Charts as numbers: bars scale to the largest, an indicator's marks stay inside the plot, and a
qualitative indicator has no chart (its table alone)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from api.pages.charts import (
    LINE_HEIGHT,
    LINE_WIDTH,
    MARGIN_LEFT,
    Reading,
    bar_chart,
    line_chart,
)


def test_bars_scale_to_the_largest_value() -> None:
    chart = bar_chart("c", "title", [("a", 5, None), ("b", 10, "/x"), ("c", 0, None)])
    assert [bar.length for bar in chart.bars] == [50.0, 100.0, 0.0]
    assert chart.total == 15


def test_a_chart_of_zeros_draws_no_bar() -> None:
    chart = bar_chart("c", "title", [("a", 0, None)])
    assert chart.bars[0].length == 0.0
    assert chart.total == 0


def test_a_qualitative_indicator_has_no_chart() -> None:
    readings = [Reading("baseline", date(2026, 1, 1), ""), Reading("actual", date(2026, 6, 1), "")]
    assert line_chart("i", "t", readings) is None


def test_the_reported_line_runs_through_the_baseline_and_the_reports_in_date_order() -> None:
    chart = line_chart(
        "i",
        "t",
        [
            Reading("actual", date(2026, 6, 1), "50"),
            Reading("baseline", date(2026, 1, 1), "0"),
            Reading("target", date(2026, 12, 31), "100"),
        ],
    )
    assert chart is not None
    assert chart.actual_path.startswith(f"M{MARGIN_LEFT},")
    assert chart.actual_path.count("L") == 1
    assert [r.kind for r in chart.readings] == ["baseline", "actual", "target"]


values = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=2)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@given(
    st.lists(
        st.tuples(st.sampled_from(["baseline", "target", "actual"]), days, values),
        min_size=1,
        max_size=30,
    )
)
def test_every_mark_lies_inside_the_drawing(points: list[tuple[str, date, object]]) -> None:
    chart = line_chart("i", "t", [Reading(kind, day, str(value)) for kind, day, value in points])
    assert chart is not None
    assert len(chart.marks) == len(points)
    for mark in chart.marks:
        assert MARGIN_LEFT <= mark.x <= LINE_WIDTH
        assert 0 <= mark.y <= LINE_HEIGHT
