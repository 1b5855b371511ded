"""Reporting freshness: the cut-off a pledge's last report is judged against."""

from __future__ import annotations

from datetime import date

import pytest

from projections.freshness import freshness_cutoff, is_silent, months_before, reported_within_window


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 1), 12, date(2025, 3, 1)),
        (date(2026, 3, 31), 1, date(2026, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 2, 29)),
        (date(2026, 1, 15), 2, date(2025, 11, 15)),
        (date(2026, 5, 31), 120, date(2016, 5, 31)),
    ],
)
def test_months_before_clamps_to_the_end_of_a_shorter_month(
    day: date, months: int, expected: date
) -> None:
    assert months_before(day, months) == expected


def test_months_before_the_first_year_is_the_first_day() -> None:
    assert months_before(date(1, 6, 1), 12) == date.min


def test_a_pledge_anchored_on_the_cutoff_is_not_yet_silent() -> None:
    cutoff = freshness_cutoff(date(2026, 3, 1), 12)

    assert not is_silent(date(2025, 3, 1), cutoff)
    assert is_silent(date(2025, 2, 28), cutoff)


def test_a_pledge_that_never_reported_did_not_report_within_the_window() -> None:
    cutoff = freshness_cutoff(date(2026, 3, 1), 12)

    assert not reported_within_window(None, cutoff)
    assert reported_within_window(date(2025, 3, 1), cutoff)
    assert not reported_within_window(date(2025, 2, 28), cutoff)
