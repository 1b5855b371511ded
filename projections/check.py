"""Checking the live read models against a rebuild from the log, row by row.

The roll-ups are published and replayed by the verifier, but every other view (a pledge's
status, its document, the registry) is served straight from its table: a row edited by SQL would
stay served. ``check_views`` folds the log, up to the position the live views stand at, into a
scratch SQLite database of its own (a temporary file, removed afterwards) with the same
projectors a rebuild uses, then compares every view table with the live one in key order and
names the first row that differs: table, key, column, live and rebuilt values.

It never writes the store's database: the live views and their position are read in one
snapshot, and the log is read up to that position, so a store that is being written meanwhile
is compared at one consistent point, and a read-only store can be checked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, String, Table, create_engine, inspect, select

from ledger.store import EventStore
from projections.runner import VIEWS, Position, default_projectors, notified_page
from projections.sealed import decode_sealed
from projections.state import ViewState, without_cycle_collection
from projections.tables import (
    ViewTables,
    bulk_loading,
    create_view_tables,
    define_view_tables,
    live_tables,
    projection_position,
    read_snapshot,
)

_SHOWN = 80
"""Characters of a value a mismatch shows (a pledge's document runs to kilobytes)."""


@dataclass(frozen=True, slots=True)
class ViewMismatch:
    """The first row where a live view differs from its rebuild: ``column`` is None when the
    row is on one side only (then ``live`` or ``rebuilt`` is None)."""

    table: str
    key: dict[str, Any]
    column: str | None
    live: Any
    rebuilt: Any

    def __str__(self) -> str:
        row = f"{self.table} row " + ", ".join(f"{k}={v}" for k, v in self.key.items())
        if self.column is None:
            if self.live is None:
                return f"{row}: missing from the live view, but the log gives it"
            return f"{row}: in the live view, but the log does not give it"
        return (
            f"{row}: {self.column} is {_shown(self.live)} in the live view but "
            f"{_shown(self.rebuilt)} rebuilt from the log"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": {k: _plain(v) for k, v in self.key.items()},
            "column": self.column,
            "live": _plain(self.live),
            "rebuilt": _plain(self.rebuilt),
        }


@dataclass(frozen=True, slots=True)
class ViewsCheck:
    """What ``check_views`` compared: the log up to ``notification_id`` (``events`` events),
    ``rows`` rows of ``tables`` tables; ``mismatch`` is the first difference, if any."""

    notification_id: int
    events: int
    tables: int
    rows: int
    mismatch: ViewMismatch | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _plain(value: Any) -> Any:
    """A JSON-ready value (dates as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def check_views(engine: Engine, store: EventStore, *, page_size: int = 5000) -> ViewsCheck:
    """Compare every live view table with a rebuild from the log; see the module doc."""
    live = live_tables()
    with (
        read_snapshot(engine) as snapshot,
        tempfile.TemporaryDirectory(prefix="pledge-ledger-views-") as scratch_folder,
    ):
        position = _live_position(snapshot)
        scratch = create_engine(f"sqlite:///{Path(scratch_folder) / 'views.db'}")
        try:
            rebuilt = define_view_tables("", index_tag="check")
            _fold_into(scratch, rebuilt, store, position, page_size)
            rows = 0
            # A view table added by a later version (projection_reference_items, ADR 0014) is
            # missing from views installed before it until a writer opens the store: read as
            # empty, it matches a rebuild exactly when the log holds nothing for it.
            present = set(inspect(snapshot).get_table_names())
            with scratch.connect() as reference:
                for live_table, rebuilt_table in zip(live.all(), rebuilt.all(), strict=True):
                    compared, mismatch = _compare(
                        snapshot,
                        live_table,
                        reference,
                        rebuilt_table,
                        live_exists=live_table.name in present,
                    )
                    rows += compared
                    if mismatch is not None:
                        return ViewsCheck(
                            position.notification_id,
                            position.events,
                            len(live.all()),
                            rows,
                            mismatch,
                        )
        finally:
            scratch.dispose()
    return ViewsCheck(position.notification_id, position.events, len(live.all()), rows, None)


def _live_position(snapshot: Connection) -> Position:
    row = snapshot.execute(
        select(projection_position.c.notification_id, projection_position.c.events).where(
            projection_position.c.name == VIEWS
        )
    ).one_or_none()
    return Position(row.notification_id, row.events) if row is not None else Position(0, 0)


def _fold_into(
    scratch: Engine, tables: ViewTables, store: EventStore, position: Position, page_size: int
) -> None:
    """Fold the log up to ``position`` in memory and write every view into ``tables``."""
    state = ViewState(decode=decode_sealed)
    after = 0
    with without_cycle_collection():
        while after < position.notification_id:
            page = notified_page(store, after, page_size, stop=position.notification_id)
            if not page:
                break
            state.apply_all(n.envelope for n in page)
            state.take_changes()
            after = page[-1].notification_id
    with scratch.begin() as connection, bulk_loading(connection):
        create_view_tables(connection, tables)
        for projector in default_projectors():
            projector.load(connection, tables, state)


def _rows_in_key_order(connection: Connection, table: Table) -> Iterator[Any]:
    key = list(table.primary_key.columns)
    order: list[Any] = key
    if connection.dialect.name == "postgresql":
        # Byte order, as SQLite's BINARY collation and Python's string comparison have it.
        order = [c.collate("C") if isinstance(c.type, String) else c for c in key]
    yield from connection.execute(select(table).order_by(*order))


def _compare(
    live_connection: Connection,
    live: Table,
    rebuilt_connection: Connection,
    rebuilt: Table,
    *,
    live_exists: bool = True,
) -> tuple[int, ViewMismatch | None]:
    """Walk both tables in key order; answer the rows compared and the first difference."""
    # SQLAlchemy's names are a str subclass that JSON encoders refuse as keys.
    name = str(live.name)
    key_names = [str(c.name) for c in live.primary_key.columns]
    columns = [str(c.name) for c in live.columns]
    live_rows = _rows_in_key_order(live_connection, live) if live_exists else iter(())
    rebuilt_rows = _rows_in_key_order(rebuilt_connection, rebuilt)
    compared = 0
    live_row: Any = next(live_rows, None)
    rebuilt_row: Any = next(rebuilt_rows, None)
    while live_row is not None or rebuilt_row is not None:
        compared += 1
        live_key = _key(live_row, key_names)
        rebuilt_key = _key(rebuilt_row, key_names)
        if rebuilt_key is None or (live_key is not None and live_key < rebuilt_key):
            keyed = dict(zip(key_names, live_key or (), strict=True))
            return compared, ViewMismatch(name, keyed, None, _row(live_row), None)
        if live_key is None or rebuilt_key < live_key:
            keyed = dict(zip(key_names, rebuilt_key, strict=True))
            return compared, ViewMismatch(name, keyed, None, None, _row(rebuilt_row))
        for column in columns:
            if live_row._mapping[column] != rebuilt_row._mapping[column]:
                keyed = dict(zip(key_names, live_key, strict=True))
                return compared, ViewMismatch(
                    name,
                    keyed,
                    column,
                    live_row._mapping[column],
                    rebuilt_row._mapping[column],
                )
        live_row = next(live_rows, None)
        rebuilt_row = next(rebuilt_rows, None)
    return compared, None


def _row(row: Any) -> dict[str, Any]:
    return {str(name): _plain(value) for name, value in row._mapping.items()}


def _key(row: Any, names: list[str]) -> tuple[Any, ...] | None:
    return None if row is None else tuple(row._mapping[name] for name in names)
