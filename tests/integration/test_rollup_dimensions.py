"""Every roll-up query, live or as of a day, refuses a dimension it does not keep."""

from __future__ import annotations

from datetime import date

import pytest

from api.bootstrap import Services
from projections import InvalidQuery, read_snapshot, rollup, rollup_as_of, rollups, rollups_as_of
from projections.as_of import rollups_of
from projections.counters import RollupCells

DAY = date(2026, 3, 1)


def test_an_unknown_dimension_is_refused_by_the_in_memory_rollups() -> None:
    with pytest.raises(InvalidQuery, match="no roll-ups by 'planet'") as refused:
        rollups_of(RollupCells.of([]), "planet", DAY, 12)

    assert refused.value.field == "by"


def test_an_unknown_dimension_is_refused_by_the_live_rollups(services: Services) -> None:
    with read_snapshot(services.engine) as connection:
        with pytest.raises(InvalidQuery, match="no roll-ups by 'planet'"):
            rollups(connection, "planet", today=DAY, freshness_months=12)
        with pytest.raises(InvalidQuery, match="no roll-ups by 'planet'"):
            rollup(connection, "planet", "earth", today=DAY, freshness_months=12)


def test_an_unknown_dimension_is_refused_by_the_rollups_as_of_a_day(services: Services) -> None:
    with pytest.raises(InvalidQuery, match="no roll-ups by 'planet'"):
        rollups_as_of(services.store, "planet", DAY, freshness_months=12)
    with pytest.raises(InvalidQuery, match="no roll-ups by 'planet'"):
        rollup_as_of(services.store, "planet", "earth", DAY, freshness_months=12)


def test_a_known_dimension_with_no_pledges_has_no_rollups(services: Services) -> None:
    with read_snapshot(services.engine) as connection:
        assert rollups(connection, "network", today=DAY, freshness_months=12) == []
    assert rollup_as_of(services.store, "network", "uclg", DAY, freshness_months=12) is None
