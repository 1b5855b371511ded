"""The roll-up view: sums by (dimension, key), kept up to date by differences.

Three tables, one row per sum: counters (pledges, by status, stage and outcome, ever validated),
freshness dates (open pledges by anchor, reporting pledges by last report), and indicator totals.
A batch changes them by the difference of the contributions of the pledges it touched (see
``projections.counters``), so a roll-up costs the same to read with a thousand pledges as with a
million: no query groups pledges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, Table, func, select, tuple_

from projections.counters import (
    DIMENSIONS,
    OPEN,
    PLEDGES,
    REPORTED,
    IndicatorTotals,
    RollupCells,
    check_dimension,
    open_pledges,
    rollup_json,
)
from projections.decimals import decimal_text
from projections.freshness import freshness_cutoff
from projections.models import RollupOut
from projections.projector import ProjectionBatch
from projections.state import ViewState
from projections.tables import (
    ViewTables,
    delete_rows,
    insert_rows,
    live_tables,
    upsert_rows,
)

CHUNK = 400


COUNTER_KEY = ("dimension", "key", "name")
FRESHNESS_KEY = ("dimension", "key", "kind", "day")
INDICATOR_KEY = ("dimension", "key", "indicator_id", "measure")
INDICATOR_SUMS = (
    "pledges",
    "reported",
    "met_target",
    "baseline_total",
    "latest_total",
    "target_total",
)


def _counter_rows(cells: RollupCells) -> list[tuple[str, str, str, int]]:
    return [
        (d, k, name, n)
        for (d, k), counters in cells.counters.items()
        for name, n in counters.items()
    ]


def _freshness_rows(cells: RollupCells) -> list[tuple[str, str, str, str, int]]:
    return [
        (d, k, kind, day.isoformat(), n)
        for (d, k), entries in cells.freshness.items()
        for (kind, day), n in entries.items()
    ]


def _indicator_row(
    dimension: str, key: str, indicator_id: str, measure: str, totals: IndicatorTotals
) -> tuple[Any, ...]:
    return (
        dimension,
        key,
        indicator_id,
        measure,
        totals.pledges,
        totals.reported,
        totals.met_target,
        decimal_text(totals.baseline),
        decimal_text(totals.latest),
        decimal_text(totals.target),
    )


def _totals(row: Any) -> IndicatorTotals:
    return IndicatorTotals(
        row.pledges,
        row.reported,
        row.met_target,
        Decimal(row.baseline_total),
        Decimal(row.latest_total),
        Decimal(row.target_total),
    )


class RollupProjector:
    def apply(self, connection: Connection, tables: ViewTables, batch: ProjectionBatch) -> None:
        delta = batch.rollup_change()
        self._add_counts(connection, tables.rollup_counters, _counter_rows(delta), COUNTER_KEY)
        self._add_counts(connection, tables.rollup_freshness, _freshness_rows(delta), FRESHNESS_KEY)
        self._add_indicators(connection, tables, delta)

    @staticmethod
    def _add_counts(
        connection: Connection,
        table: Table,
        rows: Sequence[tuple[Any, ...]],
        key: tuple[str, ...],
    ) -> None:
        upsert_rows(connection, table, (*key, "value"), rows, key=key, increment=("value",))
        # A sum can only reach zero by a decrease; zero rows go, as if never written.
        decreased = [row[:-1] for row in rows if row[-1] < 0]
        delete_rows(connection, table, decreased, key=key, only_if="value = 0")

    @staticmethod
    def _add_indicators(connection: Connection, tables: ViewTables, delta: RollupCells) -> None:
        table = tables.rollup_indicators
        cells = sorted(
            ((d, k, indicator_id, measure), totals)
            for (d, k), indicators in delta.indicators.items()
            for (indicator_id, measure), totals in indicators.items()
        )
        if not cells:
            return
        columns = (table.c.dimension, table.c.key, table.c.indicator_id, table.c.measure)
        stored: dict[tuple[str, str, str, str], IndicatorTotals] = {}
        for start in range(0, len(cells), CHUNK):
            wanted = [cell for cell, _ in cells[start : start + CHUNK]]
            for row in connection.execute(select(table).where(tuple_(*columns).in_(wanted))):
                stored[(row.dimension, row.key, row.indicator_id, row.measure)] = _totals(row)
        written, emptied = [], []
        for cell, change in cells:
            summed = stored.get(cell, IndicatorTotals()).plus(change)
            if summed.is_zero:
                if cell in stored:
                    emptied.append(cell)
            else:
                written.append(_indicator_row(*cell, summed))
        upsert_rows(
            connection,
            table,
            (*INDICATOR_KEY, *INDICATOR_SUMS),
            written,
            key=INDICATOR_KEY,
            replace=INDICATOR_SUMS,
        )
        delete_rows(connection, table, emptied, key=INDICATOR_KEY)

    def load(self, connection: Connection, tables: ViewTables, state: ViewState) -> None:
        self.load_cells(connection, tables, state.rollup_cells())

    @staticmethod
    def load_cells(connection: Connection, tables: ViewTables, cells: RollupCells) -> None:
        """Write complete sums into empty tables (in key order, which SQLite appends fastest)."""
        indicator_rows = [
            _indicator_row(d, k, indicator_id, measure, totals)
            for (d, k), indicators in cells.indicators.items()
            for (indicator_id, measure), totals in indicators.items()
        ]
        insert_rows(
            connection,
            tables.rollup_counters,
            (*COUNTER_KEY, "value"),
            sorted(_counter_rows(cells)),
        )
        insert_rows(
            connection,
            tables.rollup_freshness,
            (*FRESHNESS_KEY, "value"),
            sorted(_freshness_rows(cells)),
        )
        insert_rows(
            connection,
            tables.rollup_indicators,
            (*INDICATOR_KEY, *INDICATOR_SUMS),
            sorted(indicator_rows),
        )


# --- queries ----------------------------------------------------------------------------------


def rollup(
    connection: Connection,
    dimension: str,
    key: str,
    *,
    today: date,
    freshness_months: int,
    tables: ViewTables | None = None,
) -> RollupOut | None:
    """One group's roll-up, freshness judged on ``today`` (None: no pledge in the group).

    It reads three tables: give it a connection from ``read_snapshot`` so they agree.
    """
    found = rollups(
        connection,
        dimension,
        today=today,
        freshness_months=freshness_months,
        keys=[key],
        tables=tables,
    )
    return found[0] if found else None


def rollups(
    connection: Connection,
    dimension: str,
    *,
    today: date,
    freshness_months: int,
    keys: Sequence[str] | None = None,
    tables: ViewTables | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[RollupOut]:
    """The roll-ups of every key of a dimension (or of the ``keys`` given), ordered by key;
    with ``after`` and ``limit``, a page: at most ``limit`` of the keys after ``after``."""
    found = rollups_json(
        connection,
        dimension,
        today=today,
        freshness_months=freshness_months,
        keys=keys,
        tables=tables,
        after=after,
        limit=limit,
    )
    return [RollupOut.model_validate(made) for made in found]


def rollups_json(
    connection: Connection,
    dimension: str,
    *,
    today: date,
    freshness_months: int,
    keys: Sequence[str] | None = None,
    tables: ViewTables | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """``rollups`` as JSON values (``rollup_json``: what the models dump, without them)."""
    check_dimension(dimension)
    tables = tables or live_tables()
    counters_t = tables.rollup_counters
    freshness_t = tables.rollup_freshness
    indicators_t = tables.rollup_indicators
    if keys is None and (after is not None or limit is not None):
        # A page: its keys first, then only their rows (the city dimension of a million events
        # has 80,000 groups).
        page = page_keys(counters_t, dimension, after, limit, connection.dialect.name)
        keys = [str(key) for key in connection.execute(page).scalars()]
        if not keys:
            return []

    def scoped(query: Any, table: Any) -> Any:
        query = query.where(table.c.dimension == dimension)
        return query.where(table.c.key.in_(keys)) if keys is not None else query

    counters: dict[str, dict[str, int]] = {}
    for key, name, value in connection.execute(
        scoped(select(counters_t.c.key, counters_t.c.name, counters_t.c.value), counters_t)
    ):
        counters.setdefault(key, {})[name] = value
    found = sorted(key for key, named in counters.items() if named.get(PLEDGES))
    # Only the dates on or after the cut-off are read (at most a window's worth of days per
    # key): the silent are the open pledges that are not among them.
    cutoff = freshness_cutoff(today, freshness_months)
    recent: dict[tuple[str, str], int] = {}
    for start in range(0, len(found), CHUNK):
        rows = connection.execute(
            select(freshness_t.c.key, freshness_t.c.kind, func.sum(freshness_t.c.value))
            .where(
                freshness_t.c.dimension == dimension,
                freshness_t.c.key.in_(found[start : start + CHUNK]),
                freshness_t.c.kind.in_((OPEN, REPORTED)),
                freshness_t.c.day >= cutoff,
            )
            .group_by(freshness_t.c.key, freshness_t.c.kind)
        )
        for key, kind, total in rows:
            recent[(key, kind)] = int(total)
    indicators: dict[str, list[tuple[str, str, IndicatorTotals]]] = {}
    for row in connection.execute(scoped(select(indicators_t), indicators_t)):
        indicators.setdefault(row.key, []).append((row.indicator_id, row.measure, _totals(row)))
    return [
        rollup_json(
            dimension,
            key,
            counters[key],
            recent.get((key, REPORTED), 0),
            open_pledges(counters[key]) - recent.get((key, OPEN), 0),
            indicators.get(key, []),
            today,
            freshness_months,
        )
        for key in found
    ]


def page_keys(
    counters_t: Table, dimension: str, after: str | None, limit: int | None, dialect: str
) -> Select[Any]:
    """The keys of a page of a dimension's roll-ups: the groups that count a pledge, after
    ``after``, in key order by code point (as Python sorts them, so pages add up to the whole
    list) whatever the database's collation (a linguistic one sorts "ma-zz" after "maaa")."""
    ordered = counters_t.c.key.collate("C" if dialect == "postgresql" else "BINARY")
    page = (
        select(counters_t.c.key)
        .where(
            counters_t.c.dimension == dimension,
            counters_t.c.name == PLEDGES,
            counters_t.c.value > 0,
        )
        .order_by(ordered)
    )
    if after is not None:
        page = page.where(ordered > after)
    if limit is not None:
        page = page.limit(limit)
    return page


def all_rollups(
    connection: Connection,
    *,
    today: date,
    freshness_months: int,
    tables: ViewTables | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every roll-up of every dimension, as JSON values (what ``rollups.json`` publishes)."""
    return {
        dimension: rollups_json(
            connection,
            dimension,
            today=today,
            freshness_months=freshness_months,
            tables=tables,
        )
        for dimension in DIMENSIONS
    }
