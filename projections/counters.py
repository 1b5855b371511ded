"""Roll-up counters: what each pledge adds to the roll-ups of every group it belongs to (pure).

A roll-up is a sum over pledges. Each pledge *contributes* a few counters (one pledge, its status,
its stage, its outcome, whether it was ever validated), its freshness anchor and its indicators'
figures, to every ``(dimension, key)`` it belongs to: all pledges, its network, each of its
cities and their countries, each GCM objective, GCR area, SDG goal and priority area it names,
and its status. When a pledge changes, the roll-ups change by ``contribution(after) -
contribution(before)``: the SQL projector stores the sums as rows keyed by dimension and applies
those differences, the in-memory fold (as-of queries, the offline verifier) adds contributions up
from scratch, and both produce roll-ups through ``rollup_json`` (JSON values; ``build_rollup``
validates them into a ``RollupOut``).

Freshness depends on the day it is judged on, so it is not a counter: each open pledge adds its
anchor date (``open``) and, if it has reported, its last report date (``reported``), and the
query counts the dates on either side of the cut-off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from itertools import repeat
from typing import Any, overload

from domain.events import OUTCOMES, STAGES
from domain.pledge import STATUSES
from projections.decimals import EXACT, ZERO, decimal_text, share
from projections.errors import InvalidQuery
from projections.freshness import freshness_cutoff
from projections.models import RollupOut
from projections.pledge_fold import PledgeView, indicator_standings

DIMENSIONS: tuple[str, ...] = (
    "all",
    "network",
    "city",
    "country",
    "gcm_objective",
    "gcr_area",
    "sdg",
    "priority_area",
    "status",
)


def check_dimension(dimension: str) -> None:
    """Refuse a roll-up dimension that is not one of ``DIMENSIONS`` (the ``by`` of a query)."""
    if dimension not in DIMENSIONS:
        raise InvalidQuery(
            f"no roll-ups by {dimension!r}; dimensions: {', '.join(DIMENSIONS)}", field="by"
        )


ALL = ("all", "all")
UNREPORTED = "unreported"
"""The stage key of pledges that have not reported a stage yet."""

PLEDGES = "pledges"
EVER_VALIDATED = "ever_validated"
OPEN = "open"
REPORTED = "reported"

Key = tuple[str, str]


def sdg_goal(target: str) -> str:
    """Roll-ups count SDG goals: "10.7" and "10.c" both count for goal "10"."""
    return target.split(".", 1)[0]


def memberships(view: PledgeView) -> tuple[Key, ...]:
    """Every (dimension, key) whose roll-up counts the pledge, each once."""
    content = view.state.content
    # Tags are unique within each list (a domain rule); only SDG targets can share a goal.
    goals = dict.fromkeys(sdg_goal(target) for target in content.sdg_targets)
    return (
        ALL,
        ("network", view.state.network_id),
        *[("city", city) for city in content.cities],
        *[("country", country) for country in view.countries],
        *[("gcm_objective", str(objective)) for objective in content.gcm_objectives],
        *[("gcr_area", area) for area in content.gcr_areas],
        *[("sdg", goal) for goal in goals],
        *[("priority_area", area) for area in content.priority_areas],
        ("status", view.state.status),
    )


@dataclass(frozen=True, slots=True)
class IndicatorTotals:
    """Sums over the pledges of a group that have one indicator (sums only for ``unit``)."""

    pledges: int = 0
    reported: int = 0
    met_target: int = 0
    baseline: Decimal = ZERO
    latest: Decimal = ZERO
    target: Decimal = ZERO

    def plus(self, other: IndicatorTotals, sign: int = 1) -> IndicatorTotals:
        """These sums with ``other``'s added (``sign`` 1) or taken away (``sign`` -1)."""
        if sign not in (1, -1):
            raise ValueError("sign is 1 or -1")
        combine = EXACT.add if sign == 1 else EXACT.subtract
        return IndicatorTotals(
            self.pledges + sign * other.pledges,
            self.reported + sign * other.reported,
            self.met_target + sign * other.met_target,
            combine(self.baseline, other.baseline),
            combine(self.latest, other.latest),
            combine(self.target, other.target),
        )

    @property
    def is_zero(self) -> bool:
        return not (
            self.pledges
            or self.reported
            or self.met_target
            or self.baseline
            or self.latest
            or self.target
        )


@dataclass(frozen=True, slots=True)
class Contribution:
    keys: tuple[Key, ...]
    counters: tuple[str, ...]
    freshness: tuple[tuple[str, date], ...]
    indicators: tuple[tuple[tuple[str, str], IndicatorTotals], ...]

    def without(self, other: Contribution) -> Contribution:
        """The figures of this contribution that ``other`` does not have (same groups)."""
        return Contribution(
            self.keys,
            tuple(c for c in self.counters if c not in other.counters),
            tuple(f for f in self.freshness if f not in other.freshness),
            tuple(i for i in self.indicators if i not in other.indicators),
        )


def _distinct(part: Contribution) -> bool:
    """Whether each group, and each indicator, is named once (what moving figures assumes)."""
    return len(set(part.keys)) == len(part.keys) and len(
        {measured for measured, _ in part.indicators}
    ) == len(part.indicators)


def contribution(view: PledgeView) -> Contribution:
    state = view.state
    counters = [PLEDGES, f"status:{state.status}", f"stage:{state.stage or UNREPORTED}"]
    if state.outcome is not None:
        counters.append(f"outcome:{state.outcome}")
    if state.ever_validated:
        counters.append(EVER_VALIDATED)
    freshness: list[tuple[str, date]] = []
    if view.is_open:
        freshness.append((OPEN, view.freshness_anchor))
        if view.last_reported_on is not None:
            freshness.append((REPORTED, view.last_reported_on))
    indicators = []
    for standing in indicator_standings(view, with_progress=False):
        indicator = standing.indicator
        totals = IndicatorTotals(
            pledges=1,
            reported=int(standing.latest is not None),
            met_target=int(standing.met_target is True),
        )
        if indicator.measure == "unit":
            baseline = indicator.baseline
            latest = standing.latest
            target = standing.target
            totals = IndicatorTotals(
                totals.pledges,
                totals.reported,
                totals.met_target,
                Decimal(baseline.value) if baseline and baseline.value is not None else ZERO,
                Decimal(latest.value) if latest and latest.value is not None else ZERO,
                Decimal(target.value) if target and target.value is not None else ZERO,
            )
        indicators.append(((indicator.id, indicator.measure), totals))
    return Contribution(memberships(view), tuple(counters), tuple(freshness), tuple(indicators))


TALLY_BATCH = 16_384
"""Pledges tallied at once (``RollupCells.of``, ``RollupsFold.finish``) before their sums are
merged."""


class RollupCells:
    """Roll-up sums by (dimension, key): the in-memory twin of the roll-up tables.

    Entries that sum to zero are dropped, so two cells built along different paths (from
    scratch, or by differences) hold exactly the same entries when they agree.
    """

    def __init__(self) -> None:
        self.counters: dict[Key, dict[str, int]] = {}
        self.freshness: dict[Key, dict[tuple[str, date], int]] = {}
        self.indicators: dict[Key, dict[tuple[str, str], IndicatorTotals]] = {}

    def add(self, part: Contribution, sign: int = 1) -> None:
        # Each indicator's signed totals are worked out once, not once per group: where a group
        # has no entry for the indicator yet, the (frozen) signed totals are its entry.
        signed = [
            (measured, IndicatorTotals().plus(totals, sign)) for measured, totals in part.indicators
        ]
        counted = self.counters
        for group in part.keys:
            counters = counted.setdefault(group, {})
            for name in part.counters:
                value = counters.get(name, 0) + sign
                if value:
                    counters[name] = value
                else:
                    del counters[name]
            if not counters:
                del counted[group]
            if part.freshness:
                freshness = self.freshness.setdefault(group, {})
                for entry in part.freshness:
                    value = freshness.get(entry, 0) + sign
                    if value:
                        freshness[entry] = value
                    else:
                        del freshness[entry]
                if not freshness:
                    del self.freshness[group]
            if signed:
                indicators = self.indicators.setdefault(group, {})
                for measured, totals in signed:
                    known = indicators.get(measured)
                    summed = totals if known is None else known.plus(totals)
                    if summed.is_zero:
                        indicators.pop(measured, None)
                    else:
                        indicators[measured] = summed
                if not indicators:
                    del self.indicators[group]

    def change(self, before: PledgeView | None, after: PledgeView | None) -> None:
        """Account for one pledge going from ``before`` to ``after`` (None: absent)."""
        self.change_contributions(
            contribution(before) if before is not None else None,
            contribution(after) if after is not None else None,
        )

    def change_contributions(self, old: Contribution | None, new: Contribution | None) -> None:
        """Account for one pledge's contribution going from ``old`` to ``new`` (None: absent)."""
        if old == new:
            return
        if old is None or new is None or not (_distinct(old) and _distinct(new)):
            if old is not None:
                self.add(old, -1)
            if new is not None:
                self.add(new, 1)
            return
        if old.keys == new.keys:
            # Same groups (the usual case): move only the figures that differ, each indicator
            # by the difference of its totals, worked out once for all the groups.
            self._move(old, new)
            return
        # A status changed (or a tag): the groups the pledge left lose all of it, the groups
        # it joined gain all of it, and the groups it stays in move only what differs.
        kept = set(old.keys) & set(new.keys)
        left = tuple(group for group in old.keys if group not in kept)
        joined = tuple(group for group in new.keys if group not in kept)
        if left:
            self.add(Contribution(left, old.counters, old.freshness, old.indicators), -1)
        if kept:
            stays = tuple(group for group in new.keys if group in kept)
            self._move(
                Contribution(stays, old.counters, old.freshness, old.indicators),
                Contribution(stays, new.counters, new.freshness, new.indicators),
            )
        if joined:
            self.add(Contribution(joined, new.counters, new.freshness, new.indicators), 1)

    def _move(self, old: Contribution, new: Contribution) -> None:
        gone = [name for name in old.counters if name not in new.counters]
        came = [name for name in new.counters if name not in old.counters]
        left = [entry for entry in old.freshness if entry not in new.freshness]
        entered = [entry for entry in new.freshness if entry not in old.freshness]
        before = dict(old.indicators)
        moved = []
        for measured, totals in new.indicators:
            was = before.pop(measured, None)
            if was is None:
                moved.append((measured, totals))
            elif was != totals:
                moved.append((measured, totals.plus(was, -1)))
        moved.extend(
            (measured, IndicatorTotals().plus(was, -1)) for measured, was in before.items()
        )
        counted, dated, measures = self.counters, self.freshness, self.indicators
        for group in new.keys:
            if gone or came:
                counters = counted.setdefault(group, {})
                for name in gone:
                    value = counters.get(name, 0) - 1
                    if value:
                        counters[name] = value
                    else:
                        del counters[name]
                for name in came:
                    value = counters.get(name, 0) + 1
                    if value:
                        counters[name] = value
                    else:
                        del counters[name]
                if not counters:
                    del counted[group]
            if left or entered:
                freshness = dated.setdefault(group, {})
                for entry in left:
                    value = freshness.get(entry, 0) - 1
                    if value:
                        freshness[entry] = value
                    else:
                        del freshness[entry]
                for entry in entered:
                    value = freshness.get(entry, 0) + 1
                    if value:
                        freshness[entry] = value
                    else:
                        del freshness[entry]
                if not freshness:
                    del dated[group]
            if moved:
                indicators = measures.setdefault(group, {})
                for measured, totals in moved:
                    known = indicators.get(measured)
                    summed = totals if known is None else known.plus(totals)
                    if summed.is_zero:
                        indicators.pop(measured, None)
                    else:
                        indicators[measured] = summed
                if not indicators:
                    del measures[group]

    @classmethod
    def of(cls, views: Iterable[PledgeView], *, batch: int = TALLY_BATCH) -> RollupCells:
        """The sums over ``views``: what ``add`` gives, adding each once, but counted in bulk,
        ``batch`` views at a time and their sums merged (a tally holds a pair per pledge and
        group: millions at a million events)."""
        cells = RollupCells()
        tally = RollupTally()
        for count, view in enumerate(views, start=1):
            tally.add(contribution(view))
            if count % batch == 0:
                cells.merge(tally.cells())
                tally = RollupTally()
        cells.merge(tally.cells())
        return cells

    def merge(self, other: RollupCells) -> None:
        """Add the sums of ``other`` (of other pledges) to these."""
        for group, counters in other.counters.items():
            mine = self.counters.setdefault(group, {})
            for name, n in counters.items():
                mine[name] = mine.get(name, 0) + n
        for group, entries in other.freshness.items():
            dates = self.freshness.setdefault(group, {})
            for entry, n in entries.items():
                dates[entry] = dates.get(entry, 0) + n
        for group, indicators in other.indicators.items():
            sums = self.indicators.setdefault(group, {})
            for measured, totals in indicators.items():
                sums[measured] = sums.get(measured, IndicatorTotals()).plus(totals)

    def keys(self, dimension: str) -> list[str]:
        """The keys of the dimension's groups that have a roll-up (some counter), sorted."""
        return sorted(
            k for (d, k), counters in self.counters.items() if d == dimension and counters
        )

    def rollup(
        self, dimension: str, key: str, today: date, freshness_months: int
    ) -> RollupOut | None:
        made = self.rollup_json(dimension, key, today, freshness_months)
        return RollupOut.model_validate(made) if made is not None else None

    def rollup_json(
        self, dimension: str, key: str, today: date, freshness_months: int
    ) -> dict[str, Any] | None:
        """``rollup(...).model_dump(mode="json")``, without the model (see ``rollup_json``)."""
        group = (dimension, key)
        counters = self.counters.get(group)
        if not counters:
            return None
        cutoff = freshness_cutoff(today, freshness_months)
        fresh = silent = 0
        for (kind, day), n in self.freshness.get(group, {}).items():
            if kind == REPORTED and day >= cutoff:
                fresh += n
            elif kind == OPEN and day < cutoff:
                silent += n
        indicators = [
            (indicator_id, measure, totals)
            for (indicator_id, measure), totals in self.indicators.get(group, {}).items()
        ]
        return rollup_json(
            dimension, key, counters, fresh, silent, indicators, today, freshness_months
        )


class DimensionList(Sequence[dict[str, Any]]):
    """A dimension's roll-ups as ``rollups_of`` lists them (JSON values), each made when it is
    read: the city dimension of a million events holds a hundred thousand of them."""

    def __init__(
        self, cells: RollupCells, dimension: str, as_of: date, freshness_months: int
    ) -> None:
        self.cells = cells
        self.dimension = dimension
        self.as_of = as_of
        self.freshness_months = freshness_months
        self.keys = cells.keys(dimension)

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._made(key) for key in self.keys[index]]
        return self._made(self.keys[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._made, self.keys)

    def _made(self, key: str) -> dict[str, Any]:
        rollup = self.cells.rollup_json(self.dimension, key, self.as_of, self.freshness_months)
        assert rollup is not None  # ``keys`` lists only groups that have one
        return rollup


# --- what a roll-up shows --------------------------------------------------------------------


def open_pledges(counters: Mapping[str, int]) -> int:
    """Pledges neither withdrawn nor closed, from a group's counters."""
    ended = counters.get("status:withdrawn", 0) + counters.get("status:closed", 0)
    return counters.get(PLEDGES, 0) - ended


def rollup_json(
    dimension: str,
    key: str,
    counters: Mapping[str, int],
    reported_within_window: int,
    silent: int,
    indicators: Iterable[tuple[str, str, IndicatorTotals]],
    today: date,
    freshness_months: int,
) -> dict[str, Any]:
    """A roll-up from its sums, as JSON values (what ``build_rollup(...).model_dump(mode="json")``
    gives); shares are of open pledges (neither withdrawn nor closed).

    The one place a roll-up's figures are worked out: ``build_rollup`` validates these values
    into a ``RollupOut``. The verifier and the published roll-ups make one per group (a hundred
    thousand at a million events), and building the model to dump it again cost 90 µs a
    roll-up, this a fraction of it (benchmarks/RESULTS.md).
    """
    by_status: dict[str, int] = {status: counters.get(f"status:{status}", 0) for status in STATUSES}
    open_count = open_pledges(counters)
    return {
        "dimension": dimension,
        "key": key,
        "today": today.isoformat(),
        "freshness_months": freshness_months,
        "freshness_cutoff": freshness_cutoff(today, freshness_months).isoformat(),
        "pledges": counters.get(PLEDGES, 0),
        "open": open_count,
        "by_status": by_status,
        "by_stage": {s: counters.get(f"stage:{s}", 0) for s in (*STAGES, UNREPORTED)},
        "by_outcome": {o: counters.get(f"outcome:{o}", 0) for o in OUTCOMES},
        "validated": by_status["validated"],
        "ever_validated": counters.get(EVER_VALIDATED, 0),
        "share_validated": share(by_status["validated"], open_count),
        "reported_within_window": reported_within_window,
        "share_reported_within_window": share(reported_within_window, open_count),
        "silent": silent,
        "indicators": [
            {
                "indicator_id": indicator_id,
                "measure": measure,
                "pledges": totals.pledges,
                "reported": totals.reported,
                "met_target": totals.met_target,
                "baseline_total": decimal_text(totals.baseline) if measure == "unit" else None,
                "latest_total": decimal_text(totals.latest) if measure == "unit" else None,
                "target_total": decimal_text(totals.target) if measure == "unit" else None,
            }
            for indicator_id, measure, totals in sorted(indicators, key=lambda i: i[:2])
        ],
    }


def build_rollup(
    dimension: str,
    key: str,
    counters: Mapping[str, int],
    reported_within_window: int,
    silent: int,
    indicators: Iterable[tuple[str, str, IndicatorTotals]],
    today: date,
    freshness_months: int,
) -> RollupOut:
    """A roll-up from its sums (``rollup_json``, validated)."""
    return RollupOut.model_validate(
        rollup_json(
            dimension,
            key,
            counters,
            reported_within_window,
            silent,
            indicators,
            today,
            freshness_months,
        )
    )


AMOUNTS_KEPT = 256
"""``RollupTally`` keeps at most this many amounts per cell before summing them into one."""


class RollupTally:
    """Roll-up sums counted in bulk, one contribution at a time (``RollupCells.of``).

    A pledge adds to a dozen groups, and thousands of pledges add the same figures (the same
    counters, often the same dates): each distinct set of figures is numbered once, the groups
    count how many pledges brought each number (``Counter.update`` over pairs, in C), and the
    figures are multiplied out per group in ``cells``.
    """

    def __init__(self) -> None:
        self.profiles: dict[tuple[tuple[str, ...], tuple[tuple[str, date], ...]], int] = {}
        self.measured: dict[tuple[tuple[str, str], int, int], int] = {}
        self.counted: Counter[tuple[Key, int]] = Counter()
        self.figured: Counter[tuple[Key, int]] = Counter()
        self.amounts: dict[tuple[Key, tuple[str, str], str], list[Decimal]] = {}

    def add(self, part: Contribution) -> None:
        keys = part.keys
        profile = (part.counters, part.freshness)
        number = self.profiles.get(profile)
        if number is None:
            number = self.profiles[profile] = len(self.profiles)
        self.counted.update(zip(keys, repeat(number)))
        for indicator, totals in part.indicators:
            figure = (indicator, totals.reported, totals.met_target)
            number = self.measured.get(figure)
            if number is None:
                number = self.measured[figure] = len(self.measured)
            self.figured.update(zip(keys, repeat(number)))
            for field, amount in (
                ("baseline", totals.baseline),
                ("latest", totals.latest),
                ("target", totals.target),
            ):
                if amount:
                    for group in keys:
                        cell = (group, indicator, field)
                        amounts = self.amounts.get(cell)
                        if amounts is None:
                            self.amounts[cell] = [amount]
                        elif len(amounts) < AMOUNTS_KEPT:
                            amounts.append(amount)
                        else:
                            # A big group's amounts are summed as they come, a batch at a time:
                            # memory stays bounded by the groups, not by the pledges (the sum
                            # is exact either way, so its order does not change it).
                            with localcontext(EXACT):
                                amounts[:] = [sum(amounts, ZERO), amount]

    def cells(self) -> RollupCells:
        cells = RollupCells()
        by_number = list(self.profiles)
        for (group, number), n in self.counted.items():
            names, dates = by_number[number]
            counters = cells.counters.setdefault(group, {})
            for name in names:
                counters[name] = counters.get(name, 0) + n
            if dates:
                freshness = cells.freshness.setdefault(group, {})
                for entry in dates:
                    freshness[entry] = freshness.get(entry, 0) + n
        with localcontext(EXACT):
            sums = {cell: sum(values, ZERO) for cell, values in self.amounts.items()}
        tallies: dict[tuple[Key, tuple[str, str]], list[int]] = {}
        figures = list(self.measured)
        for (group, number), n in self.figured.items():
            indicator, reported, met_target = figures[number]
            tally = tallies.setdefault((group, indicator), [0, 0, 0])
            tally[0] += n
            tally[1] += n * reported
            tally[2] += n * met_target
        for (group, indicator), (pledges, reported, met_target) in tallies.items():
            cells.indicators.setdefault(group, {})[indicator] = IndicatorTotals(
                pledges=pledges,
                reported=reported,
                met_target=met_target,
                baseline=sums.get((group, indicator, "baseline"), ZERO),
                latest=sums.get((group, indicator, "latest"), ZERO),
                target=sums.get((group, indicator, "target"), ZERO),
            )
        return cells
