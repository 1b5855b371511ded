"""The read models' tables (SQLAlchemy Core), their tracking position, and a consistent read.

Every view table exists under its live name and, during a rebuild, under the same name with a
suffix; the rebuild fills the suffixed set and renames it over the live one in one transaction.
Index and constraint names carry a tag drawn when a set is created, because renaming a table
keeps them and both sets live side by side for a moment.

The tracking position is not part of a set: one row per runner, updated in the transaction that
writes the views it covers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

AFTER_REBUILD_SUFFIX = "__old"
REBUILD_SUFFIX = "__next"

position_metadata = MetaData()
projection_position = Table(
    "projection_position",
    position_metadata,
    Column("name", String(32), primary_key=True),
    Column("notification_id", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class ViewTables:
    """One complete set of view tables (live, or being rebuilt aside)."""

    suffix: str
    metadata: MetaData
    pledges: Table
    pledge_tags: Table
    cities: Table
    networks: Table
    members: Table
    signatures: Table
    reference_items: Table
    rollup_counters: Table
    rollup_freshness: Table
    rollup_indicators: Table

    def all(self) -> tuple[Table, ...]:
        return tuple(self.metadata.sorted_tables)


def define_view_tables(suffix: str = "", index_tag: str | None = None) -> ViewTables:
    """Table definitions for the set named with ``suffix`` (``index_tag`` names its indexes)."""
    tag = index_tag or secrets.token_hex(4)
    metadata = MetaData()

    def table(
        base: str, *columns: Column[Any], key: tuple[str, ...], clustered: bool = False
    ) -> Table:
        # clustered: on SQLite, a table stored in its key's B-tree alone (WITHOUT ROWID) rather
        # than in a rowid table plus a key index: half the writes for narrow rows found by key.
        return Table(
            f"projection_{base}{suffix}",
            metadata,
            *columns,
            PrimaryKeyConstraint(*key, name=f"pk_{base}_{tag}"),
            sqlite_with_rowid=not clustered,
        )

    def key_columns() -> tuple[Column[Any], Column[Any]]:
        return Column("dimension", String(16), nullable=False), Column(
            "key", String(80), nullable=False
        )

    pledges = table(
        "pledges",
        Column("pledge_id", String(36), nullable=False),
        Column("network_id", String(64), nullable=False),
        Column("status", String(32), nullable=False),
        Column("stage", String(32)),
        Column("is_open", Boolean, nullable=False),
        Column("version", Integer, nullable=False),
        Column("submitted_at", String(32), nullable=False),
        Column("updated_at", String(32), nullable=False),
        Column("last_reported_on", Date),
        Column("freshness_anchor", Date, nullable=False),
        Column("document", Text, nullable=False),
        # Titles and descriptions in every language, case-folded (projections.pledges.
        # search_text): what the full-text filter ``q`` matches with LIKE.
        Column("search", Text, nullable=False),
        key=("pledge_id",),
    )
    Index(
        f"ix_pledges_network_{tag}",
        pledges.c.network_id,
        pledges.c.is_open,
        pledges.c.freshness_anchor,
    )
    Index(f"ix_pledges_open_{tag}", pledges.c.is_open, pledges.c.freshness_anchor)
    pledge_tags = table(
        "pledge_tags",
        *key_columns(),
        Column("pledge_id", String(36), nullable=False),
        key=("dimension", "key", "pledge_id"),
        clustered=True,
    )
    cities = table(
        "cities",
        Column("city_id", String(64), nullable=False),
        Column("name", Text, nullable=False),
        Column("country", String(2), nullable=False),
        Column("registered_at", String(32), nullable=False),
        key=("city_id",),
    )
    networks = table(
        "networks",
        Column("network_id", String(64), nullable=False),
        Column("name", Text, nullable=False),
        Column("registered_at", String(32), nullable=False),
        key=("network_id",),
    )
    members = table(
        "network_members",
        Column("network_id", String(64), nullable=False),
        Column("city_id", String(64), nullable=False),
        Column("joined_at", String(32), nullable=False),
        key=("network_id", "city_id"),
    )
    signatures = table(
        "signatures",
        Column("declaration_id", String(64), nullable=False),
        Column("city_id", String(64), nullable=False),
        Column("signed_on", Date, nullable=False),
        Column("recorded_at", String(32), nullable=False),
        key=("declaration_id", "city_id"),
    )
    # Reference data registered on the log (ADR 0014): kind is priority_area, declaration or
    # call; starts_on / ends_on are a declaration's adoption day, a call's opening and closing.
    reference_items = table(
        "reference_items",
        Column("kind", String(16), nullable=False),
        Column("item_id", String(64), nullable=False),
        Column("title", Text, nullable=False),
        Column("starts_on", Date),
        Column("ends_on", Date),
        Column("registered_at", String(32), nullable=False),
        Column("retired_at", String(32)),
        Column("retired_reason", Text),
        key=("kind", "item_id"),
    )
    rollup_counters = table(
        "rollup_counters",
        *key_columns(),
        Column("name", String(48), nullable=False),
        Column("value", BigInteger, nullable=False),
        key=("dimension", "key", "name"),
        clustered=True,
    )
    rollup_freshness = table(
        "rollup_freshness",
        *key_columns(),
        Column("kind", String(16), nullable=False),
        Column("day", Date, nullable=False),
        Column("value", BigInteger, nullable=False),
        key=("dimension", "key", "kind", "day"),
        clustered=True,
    )
    rollup_indicators = table(
        "rollup_indicators",
        *key_columns(),
        Column("indicator_id", String(64), nullable=False),
        Column("measure", String(16), nullable=False),
        Column("pledges", BigInteger, nullable=False),
        Column("reported", BigInteger, nullable=False),
        Column("met_target", BigInteger, nullable=False),
        Column("baseline_total", Text, nullable=False),
        Column("latest_total", Text, nullable=False),
        Column("target_total", Text, nullable=False),
        key=("dimension", "key", "indicator_id", "measure"),
        clustered=True,
    )
    return ViewTables(
        suffix=suffix,
        metadata=metadata,
        pledges=pledges,
        pledge_tags=pledge_tags,
        cities=cities,
        networks=networks,
        members=members,
        signatures=signatures,
        reference_items=reference_items,
        rollup_counters=rollup_counters,
        rollup_freshness=rollup_freshness,
        rollup_indicators=rollup_indicators,
    )


@cache
def live_tables() -> ViewTables:
    """The live set, as the queries and the runner see it."""
    return define_view_tables("", index_tag="live")


def create_view_tables(connection: Connection, tables: ViewTables) -> None:
    tables.metadata.create_all(connection, checkfirst=True)


def drop_view_tables(connection: Connection, tables: ViewTables) -> None:
    tables.metadata.drop_all(connection, checkfirst=True)


def rename_view_tables(connection: Connection, source: ViewTables, target: ViewTables) -> None:
    preparer = connection.dialect.identifier_preparer
    for table in source.all():
        new_name = table.name[: len(table.name) - len(source.suffix)] + target.suffix
        connection.exec_driver_sql(
            f"ALTER TABLE {preparer.quote(table.name)} RENAME TO {preparer.quote(new_name)}"
        )


def ensure_position(connection: Connection, name: str) -> None:
    """The runner's tracking row, at the start of the log if it is new."""
    position_metadata.create_all(connection, checkfirst=True)
    exists = select(projection_position.c.name).where(projection_position.c.name == name)
    if connection.execute(exists).first() is not None:
        return
    try:
        with connection.begin_nested():
            connection.execute(
                insert(projection_position).values(name=name, notification_id=0, events=0)
            )
    except IntegrityError:
        pass  # another process made it first


@contextmanager
def bulk_loading(connection: Connection) -> Iterator[Connection]:
    """A connection tuned for filling fresh tables: on SQLite, a 256 MiB page cache meanwhile."""
    if connection.dialect.name != "sqlite":
        yield connection
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield connection
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose every statement sees the same committed state, until it closes.

    PostgreSQL's default (READ COMMITTED) takes a new snapshot per statement, and Python's
    sqlite3 runs statements outside a transaction until the first write: a query made of
    several statements would mix two positions of the views without this.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        ) as connection:
            yield connection
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()


# --- writes through the driver ------------------------------------------------------------------
# The projectors write many small rows; SQLAlchemy's per-row parameter processing costs more
# than the database does on them, so these statements go to the driver's executemany as tuples.
# Dates are written as ISO strings (SQLite stores them so; PostgreSQL casts them). The SQL
# text is built from this module's own table and column names, quoted by the dialect.


def _marker(connection: Connection) -> str:
    return "?" if connection.dialect.name == "sqlite" else "%s"


def _marks(connection: Connection, columns: Sequence[str]) -> str:
    return ", ".join([_marker(connection)] * len(columns))


def _names(connection: Connection, names: Sequence[str]) -> list[str]:
    quote = connection.dialect.identifier_preparer.quote
    return [quote(name) for name in names]


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    statement = (
        f"INSERT INTO {_names(connection, [table.name])[0]} "  # noqa: S608 - our own names
        f"({', '.join(_names(connection, columns))}) VALUES ({_marks(connection, columns)})"
    )
    connection.exec_driver_sql(statement, list(rows))


def upsert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
    increment: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """Insert rows or, where the key exists, add to (``increment``) or overwrite (``replace``)."""
    if not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    name = quote(table.name)
    changes = [f"{quote(c)} = {name}.{quote(c)} + excluded.{quote(c)}" for c in increment]
    changes += [f"{quote(c)} = excluded.{quote(c)}" for c in replace]
    statement = (
        f"INSERT INTO {name} ({', '.join(_names(connection, columns))}) "  # noqa: S608
        f"VALUES ({_marks(connection, columns)}) "
        f"ON CONFLICT ({', '.join(_names(connection, key))}) DO UPDATE SET {', '.join(changes)}"
    )
    connection.exec_driver_sql(statement, list(rows))


def update_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
) -> None:
    """Set ``columns`` of the rows whose ``key`` follows them in each tuple."""
    if not rows:
        return
    mark = _marker(connection)
    assignments = ", ".join(f"{c} = {mark}" for c in _names(connection, columns))
    condition = " AND ".join(f"{k} = {mark}" for k in _names(connection, key))
    name = _names(connection, [table.name])[0]
    statement = f"UPDATE {name} SET {assignments} WHERE {condition}"  # noqa: S608
    connection.exec_driver_sql(statement, list(rows))


def delete_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
    only_if: str = "",
) -> None:
    """Delete the rows with these keys (and, if given, the extra SQL condition ``only_if``)."""
    if not rows:
        return
    mark = _marker(connection)
    condition = " AND ".join(f"{k} = {mark}" for k in _names(connection, key))
    if only_if:
        condition += f" AND {only_if}"
    statement = f"DELETE FROM {_names(connection, [table.name])[0]} WHERE {condition}"  # noqa: S608
    connection.exec_driver_sql(statement, list(rows))
