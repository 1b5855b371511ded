"""``RollupTally`` sums a big group's amounts a batch at a time (bounded memory at 1M events):
the sums, and every other figure, are those of adding each contribution to ``RollupCells``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import counters
from projections.counters import Contribution, IndicatorTotals, RollupCells, RollupTally

GROUPS = [("all", "all"), ("network", "uclg"), ("city", "ma-marrakech"), ("status", "validated")]
INDICATORS = [("people-served", "unit"), ("share-housed", "percent")]

amounts = st.decimals(
    min_value=Decimal("-1e6"), max_value=Decimal("1e9"), places=3, allow_nan=False
).map(lambda d: d.normalize())

indicator_totals = st.builds(
    IndicatorTotals,
    pledges=st.just(1),
    reported=st.integers(0, 1),
    met_target=st.integers(0, 1),
    baseline=amounts,
    latest=amounts,
    target=amounts,
)

contributions = st.builds(
    Contribution,
    keys=st.lists(st.sampled_from(GROUPS), min_size=1, unique=True).map(tuple),
    # Every pledge counts under "pledges" (``counters.contribution``), so every group it is in
    # has a counter.
    counters=st.lists(st.sampled_from(["status:validated", "open"]), unique=True).map(
        lambda names: ("pledges", *names)
    ),
    freshness=st.lists(
        st.tuples(st.sampled_from(["reported", "silent"]), st.dates(date(2019, 1, 1))),
        max_size=2,
        unique=True,
    ).map(tuple),
    indicators=st.lists(
        st.tuples(st.sampled_from(INDICATORS), indicator_totals),
        max_size=2,
        unique_by=lambda pair: pair[0],
    ).map(tuple),
)


def tallied(parts: list[Contribution]) -> RollupCells:
    tally = RollupTally()
    for part in parts:
        tally.add(part)
    return tally.cells()


def figures(cells: RollupCells) -> tuple[object, ...]:
    return cells.counters, cells.freshness, cells.indicators


@settings(max_examples=200, deadline=None)
@given(st.lists(contributions, max_size=40))
def test_batched_sums_equal_one_contribution_at_a_time(parts: list[Contribution]) -> None:
    one_by_one = RollupCells()
    for part in parts:
        one_by_one.add(part)
    whole = tallied(parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counters, "AMOUNTS_KEPT", 2)
        batched = tallied(parts)
    assert figures(batched) == figures(whole) == figures(one_by_one)


def test_a_big_group_keeps_a_bounded_number_of_amounts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counters, "AMOUNTS_KEPT", 8)
    tally = RollupTally()
    totals = IndicatorTotals(pledges=1, baseline=Decimal("0.1"), target=Decimal("2.5"))
    for _ in range(1000):
        tally.add(Contribution((("all", "all"),), ("pledges",), (), ((INDICATORS[0], totals),)))
    assert max(len(kept) for kept in tally.amounts.values()) <= 8
    summed = tally.cells().indicators[("all", "all")][INDICATORS[0]]
    assert (summed.pledges, summed.baseline, summed.target) == (
        1000,
        Decimal("100.0"),
        Decimal("2500.0"),
    )
