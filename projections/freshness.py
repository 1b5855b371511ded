"""Reporting freshness: when a pledge last reported, kept apart from its implementation status.

A pledge is expected to report at least once every ``freshness_months`` (``settings``, default
12). Its freshness anchor is the date of its latest progress report or, until it has reported,
the date it was submitted. On a given day an open pledge (neither withdrawn nor closed) is
*silent* when its anchor falls before the freshness cut-off, the day that many months earlier;
it *reported within the window* when its latest report falls on or after the cut-off. Ended
pledges are neither: nobody expects a report from them.

Everything here takes the day explicitly; nothing reads a clock.
"""

from __future__ import annotations

import calendar
from datetime import date


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the end of a shorter month
    (and to the first representable day: a report may be asked for as of year 1)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    if year < 1:
        return date.min
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def freshness_cutoff(today: date, freshness_months: int) -> date:
    """The earliest anchor that still counts as fresh on ``today``."""
    return months_before(today, freshness_months)


def is_silent(anchor: date, cutoff: date) -> bool:
    return anchor < cutoff


def reported_within_window(last_reported_on: date | None, cutoff: date) -> bool:
    return last_reported_on is not None and last_reported_on >= cutoff
