"""The roll-ups' history, without a database: its documents, and the sums they add up to.

Each day's difference is encoded per dimension as the history stores it; adding the documents
up (a snapshot, then the changes after it, in any grouping) gives the sums of a fold of the log
as of that day, exactly: zeros dropped, decimals exact.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.envelope import Envelope
from projections.counters import DIMENSIONS, IndicatorTotals, RollupCells
from projections.history import (
    RunningSums,
    add_encoded,
    by_dimension,
    encode_cells,
    merge_cells,
    one_day,
)
from projections.projector import Notified
from projections.rollups_replay import DailyChanges
from projections.state import ViewState
from tests.unit.test_projections_fold import OPERATIONS, _random_log


def same_sums(left: RollupCells, right: RollupCells) -> bool:
    return (
        left.counters == right.counters
        and left.freshness == right.freshness
        and left.indicators == right.indicators
    )


def daily_changes(envelopes: list[Envelope]) -> list[tuple[date, RollupCells, RollupCells]]:
    """Per day of the log: what the day changed, and the sums of a fold up to its end."""
    state = ViewState()
    days: list[tuple[date, RollupCells, RollupCells]] = []
    for index, envelope in enumerate(envelopes):
        state.apply(envelope)
        last_of_day = (
            index + 1 == len(envelopes)
            or envelopes[index + 1].recorded_at[:10] != envelope.recorded_at[:10]
        )
        if last_of_day:
            change = RollupCells()
            for pledge_id, before in state.take_changes().pledges.items():
                change.change(before, state.pledges[pledge_id])
            day = date.fromisoformat(envelope.recorded_at[:10])
            days.append((day, change, RollupCells.of(state.pledges.values())))
    return days


@settings(max_examples=60, deadline=None)
@given(OPERATIONS, st.data())
def test_a_snapshot_plus_the_encoded_changes_after_it_equal_the_fold_of_every_day(
    operations: list[tuple[str, int, int]], data: st.DataObject
) -> None:
    days = daily_changes(_random_log(operations).envelopes)
    snapshot_at = data.draw(st.integers(min_value=-1, max_value=len(days) - 1))
    for index, (day, _, expected) in enumerate(days):
        found = RollupCells()
        first = 0
        if 0 <= snapshot_at <= index:
            for dimension in DIMENSIONS:
                document = encode_cells(days[snapshot_at][2], dimension)
                if document is not None:
                    add_encoded(found, dimension, document)
            first = snapshot_at + 1
        for _, change, _ in days[first : index + 1]:
            for dimension in DIMENSIONS:
                document = encode_cells(change, dimension)
                if document is not None:
                    add_encoded(found, dimension, document)
        assert same_sums(found, expected), day


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_merged_changes_equal_the_fold_and_a_key_reads_only_its_own_group(
    operations: list[tuple[str, int, int]],
) -> None:
    days = daily_changes(_random_log(operations).envelopes)
    merged = RollupCells()
    for _, change, _ in days:
        merge_cells(merged, change)
    expected = days[-1][2] if days else RollupCells()
    assert same_sums(merged, expected)
    for dimension, key in list(expected.counters)[:5]:
        document = encode_cells(expected, dimension)
        assert document is not None
        one = RollupCells()
        add_encoded(one, dimension, document, keys=[key, "no-such-key"])
        assert one.rollup(dimension, key, date(2030, 1, 1), 12) == expected.rollup(
            dimension, key, date(2030, 1, 1), 12
        )
        assert set(one.counters) == {(dimension, key)}


@settings(max_examples=60, deadline=None)
@given(OPERATIONS, st.data())
def test_the_compact_fold_gives_each_day_the_difference_the_domain_fold_gives(
    operations: list[tuple[str, int, int]], data: st.DataObject
) -> None:
    """What ``build_history`` writes: each day's change from the compact fold (``DailyChanges``),
    and snapshots from the running sums, equal the domain fold's, day after day."""
    envelopes = _random_log(operations).envelopes
    days = daily_changes(envelopes)
    compact = DailyChanges()
    running = {dimension: RunningSums(dimension) for dimension in DIMENSIONS}
    snapshot_days = data.draw(st.sets(st.integers(min_value=0, max_value=max(0, len(days) - 1))))
    index = 0
    for position, envelope in enumerate(envelopes):
        compact.apply(envelope)
        last_of_day = (
            position + 1 == len(envelopes)
            or envelopes[position + 1].recorded_at[:10] != envelope.recorded_at[:10]
        )
        if not last_of_day:
            continue
        day, expected_change, expected_sums = days[index]
        change = compact.take_change()
        assert same_sums(change, expected_change), day
        for dimension, part in by_dimension(change).items():
            running[dimension].merge(part)
        if index in snapshot_days or index + 1 == len(days):
            found = RollupCells()
            for dimension, sums in running.items():
                add_encoded(found, dimension, sums.document())
            assert same_sums(found, expected_sums), day
        index += 1
    assert index == len(days)


def test_figures_that_sum_to_zero_are_dropped_and_decimals_stay_exact() -> None:
    cells = RollupCells()
    cells.counters[("all", "all")] = {"pledges": 2, "status:validated": 1}
    cells.freshness[("all", "all")] = {("open", date(2025, 1, 6)): 1}
    cells.indicators[("all", "all")] = {
        ("people-served", "unit"): IndicatorTotals(1, 1, 0, Decimal("0.10"), Decimal("7.5"))
    }
    change = RollupCells()
    change.counters[("all", "all")] = {"status:validated": -1, "status:closed": 1}
    change.freshness[("all", "all")] = {("open", date(2025, 1, 6)): -1}
    change.indicators[("all", "all")] = {
        ("people-served", "unit"): IndicatorTotals(-1, -1, 0, Decimal("-0.10"), Decimal("-7.5"))
    }

    merge_cells(cells, change)

    assert cells.counters == {("all", "all"): {"pledges": 2, "status:closed": 1}}
    assert cells.freshness == {}
    assert cells.indicators == {}
    assert encode_cells(RollupCells(), "all") is None


def test_a_batch_takes_the_events_of_its_first_day_only() -> None:
    envelopes = _random_log([("submit", 0, 0), ("report", 0, 0), ("report", 0, 3)]).envelopes
    notified = [Notified(n + 1, e) for n, e in enumerate(envelopes)]
    first_day = envelopes[0].recorded_at[:10]

    taken = one_day(notified)

    assert [n.envelope.recorded_at[:10] for n in taken] == [first_day] * len(taken)
    assert len(taken) == sum(e.recorded_at[:10] == first_day for e in envelopes) < len(envelopes)
    assert one_day(taken) == taken
    assert one_day([]) == []
