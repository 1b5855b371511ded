"""Quality flags: what a reader should double-check about a pledge, derived, never stored.

A flag is a pure function of the pledge's folded view and a reference day (the as-of day of a
report or a query, otherwise today). Nothing records a flag on the log or in a table: the same
view read on a later day may gain a flag (a target date passes with no report) and an amended or
reported pledge loses one. Defined once here, used by the pledge page (``PledgeOut.flags``), the
pledge list filter (``flag``), the per-network counts of reports, and the reports themselves.

The flags (ADR 0021 gives the reasons):

- ``fulfilled_below_target``: closed as fulfilled while some quantitative indicator's latest
  reading misses its final target (or was never reported);
- ``fulfilled_without_report``: closed as fulfilled with no progress report at all;
- ``missing_baseline``: a quantitative indicator has no baseline value;
- ``target_passed_unreported``: an open pledge whose latest target date (of any indicator, or its
  end date when it has no targets) is before the reference day, with no progress report recorded
  on or after that date;
- SMART gaps, each its own flag: ``no_indicator`` (nothing measurable at all),
  ``qualitative_only`` (indicators, none of them a unit or a percentage), ``no_target`` (a
  quantitative indicator without any target). A target always has a date, and a quantitative
  one a value (domain rules), so "a target with no date or no value" cannot occur.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from projections.pledge_fold import PledgeView, indicator_standings

QualityFlag = Literal[
    "fulfilled_below_target",
    "fulfilled_without_report",
    "missing_baseline",
    "target_passed_unreported",
    "no_indicator",
    "qualitative_only",
    "no_target",
]
QUALITY_FLAGS: tuple[QualityFlag, ...] = (
    "fulfilled_below_target",
    "fulfilled_without_report",
    "missing_baseline",
    "target_passed_unreported",
    "no_indicator",
    "qualitative_only",
    "no_target",
)
SMART_GAPS: frozenset[QualityFlag] = frozenset({"no_indicator", "qualitative_only", "no_target"})


def last_target_date(view: PledgeView) -> date:
    """The latest date by which the pledge promised something: its last target, else its end."""
    dates = [t.date for i in view.state.content.indicators for t in i.targets]
    return max(dates) if dates else view.state.content.ends_on


def quality_flags(view: PledgeView, on: date) -> tuple[QualityFlag, ...]:
    """The pledge's flags on day ``on``, in ``QUALITY_FLAGS`` order."""
    state = view.state
    indicators = state.content.indicators
    quantitative = [i for i in indicators if i.measure != "qualitative"]
    found: set[QualityFlag] = set()
    if state.status == "closed" and state.outcome == "fulfilled":
        if view.reports == 0:
            found.add("fulfilled_without_report")
        for standing in indicator_standings(view, with_progress=False):
            target = standing.target
            if standing.indicator.measure == "qualitative" or target is None:
                continue
            if target.value is not None and standing.met_target is not True:
                found.add("fulfilled_below_target")
    if any(i.baseline is None for i in quantitative):
        found.add("missing_baseline")
    if view.is_open:
        due = last_target_date(view)
        if due < on and (view.last_reported_on is None or view.last_reported_on < due):
            found.add("target_passed_unreported")
    if not indicators:
        found.add("no_indicator")
    elif not quantitative:
        found.add("qualitative_only")
    if any(not i.targets for i in quantitative):
        found.add("no_target")
    return tuple(f for f in QUALITY_FLAGS if f in found)
