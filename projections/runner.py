"""Keeping the read models up to date: projectors, and the runner that feeds them the log.

A ``ProjectionRunner`` reads the store's notification log after its tracking position, folds a
batch of envelopes through a windowed ``ViewState`` (see ``projections.state``), lets every
projector write what the batch changed, and moves its position, all in one SQLAlchemy
transaction: a batch is applied exactly once or not at all, and a runner that dies mid-batch
(or a new one, in another process) starts again from the last committed position.

Runners exclude one another through the tracking row: each transaction starts by writing it,
which takes PostgreSQL's row lock or SQLite's write lock before the position is read.

The writing process calls ``catch_up()`` after each append (read-your-writes); a follower process
calls ``follow()`` to pick up other processes' appends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import OperationalError

from ledger.database import serialise_startup_ddl
from ledger.errors import StoreUnavailable
from ledger.log import head_columns
from ledger.store import EventStore
from projections.envelopes import read_envelope
from projections.history import create_history_tables, one_day, record_batch
from projections.pledge_fold import PledgeView, view_from_document
from projections.pledges import PledgeProjector
from projections.projector import Notified, ProjectionBatch, Projector
from projections.registry import RegistryProjector, stored_reference_item
from projections.rollups import RollupProjector
from projections.sealed import decode_sealed
from projections.state import CityRow, NetworkRow, ReferenceKey, ReferenceRow, ViewState
from projections.tables import (
    ViewTables,
    create_view_tables,
    ensure_position,
    live_tables,
    projection_position,
)

log = logging.getLogger(__name__)

VIEWS = "views"
"""The tracking row of the runner that keeps every view of this package."""


def default_projectors() -> tuple[Projector, ...]:
    """Every view, in the order their writes depend on one another."""
    return (RegistryProjector(), PledgeProjector(), RollupProjector())


class StoredViews:
    """A batch's ``StateLoader``: reads the views it needs from the tables, in its transaction."""

    def __init__(self, connection: Connection, tables: ViewTables) -> None:
        self.connection = connection
        self.tables = tables

    def city(self, city_id: str) -> CityRow | None:
        cities = self.tables.cities
        row = self.connection.execute(
            select(cities).where(cities.c.city_id == city_id)
        ).one_or_none()
        if row is None:
            return None
        return CityRow(row.city_id, orjson.loads(row.name), row.country, row.registered_at)

    def reference_item(self, key: ReferenceKey) -> ReferenceRow | None:
        return stored_reference_item(self.connection, self.tables, key)

    def network(self, network_id: str) -> NetworkRow | None:
        networks = self.tables.networks
        row = self.connection.execute(
            select(networks).where(networks.c.network_id == network_id)
        ).one_or_none()
        if row is None:
            return None
        return NetworkRow(row.network_id, orjson.loads(row.name), row.registered_at)

    def pledges_naming(self, city_id: str) -> dict[str, PledgeView]:
        tags = self.tables.pledge_tags
        pledge_ids = self.connection.execute(
            select(tags.c.pledge_id).where(tags.c.dimension == "city", tags.c.key == city_id)
        ).scalars()
        return self.pledges(list(pledge_ids))

    def pledges(self, pledge_ids: Collection[str]) -> dict[str, PledgeView]:
        pledges = self.tables.pledges
        found: dict[str, PledgeView] = {}
        ids = sorted(pledge_ids)
        for start in range(0, len(ids), 500):
            rows = self.connection.execute(
                select(pledges.c.pledge_id, pledges.c.document).where(
                    pledges.c.pledge_id.in_(ids[start : start + 500])
                )
            )
            for pledge_id, document in rows:
                found[pledge_id] = view_from_document(orjson.loads(document))
        return found


@dataclass(frozen=True, slots=True)
class Position:
    notification_id: int
    events: int


def views_position(connection: Connection) -> int:
    """The notification the read models have caught up to (0 before any): an answer computed
    from them at one position holds until it moves."""
    found = connection.execute(
        select(projection_position.c.notification_id).where(projection_position.c.name == VIEWS)
    ).scalar_one_or_none()
    return int(found or 0)


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """Where the ledger stands, read in one statement: the last event stored, the read models'
    position, the log's size and its largest checkpoint row. Anything shown from these (a
    page, an answer) holds until one of them moves."""

    stored: int
    views: int
    tree_size: int
    checkpoint_size: int


def ledger_head(connection: Connection, store: EventStore) -> LedgerHead:
    size, signed = head_columns()
    views = (
        select(projection_position.c.notification_id)
        .where(projection_position.c.name == VIEWS)
        .scalar_subquery()
    )
    row = connection.execute(select(store.max_notification_column(), views, size, signed)).one()
    return LedgerHead(*(int(value or 0) for value in row))


def claim_position(connection: Connection, name: str) -> Position:
    """Lock the tracking row for this transaction, then read it."""
    table = projection_position
    connection.execute(
        update(table).where(table.c.name == name).values(notification_id=table.c.notification_id)
    )
    row = connection.execute(
        select(table.c.notification_id, table.c.events).where(table.c.name == name)
    ).one()
    return Position(row.notification_id, row.events)


def save_position(connection: Connection, name: str, position: Position) -> None:
    connection.execute(
        update(projection_position)
        .where(projection_position.c.name == name)
        .values(notification_id=position.notification_id, events=position.events)
    )


def read_position(engine: Engine, name: str = VIEWS) -> Position:
    with engine.connect() as connection:
        row = connection.execute(
            select(projection_position.c.notification_id, projection_position.c.events).where(
                projection_position.c.name == name
            )
        ).one_or_none()
    return Position(row.notification_id, row.events) if row is not None else Position(0, 0)


def apply_batch(
    connection: Connection,
    tables: ViewTables,
    projectors: Sequence[Projector],
    notified: Sequence[Notified],
) -> ProjectionBatch:
    """Fold ``notified`` against the stored views and let every projector write the changes."""
    state = ViewState(StoredViews(connection, tables), decode=decode_sealed)
    envelopes = [n.envelope for n in notified]
    state.prefetch(envelopes)
    state.apply_all(envelopes)
    batch = ProjectionBatch(notified, state, state.take_changes())
    for projector in projectors:
        projector.apply(connection, tables, batch)
    return batch


def apply_day_batch(
    connection: Connection,
    tables: ViewTables,
    projectors: Sequence[Projector],
    notified: Sequence[Notified],
    *,
    after: int,
    history: bool = True,
) -> Sequence[Notified]:
    """``apply_batch`` on the events of ``notified`` recorded on the day of the first (the
    others wait for the next batch), and add them to the roll-ups' history if it stands at
    ``after`` with the views (``history``: for the default views' runner only); answer the
    events applied."""
    day = one_day(notified)
    batch = apply_batch(connection, tables, projectors, day)
    if history:
        record_batch(connection, day, batch.rollup_change, after=after)
    return day


def notified_page(
    store: EventStore,
    after: int,
    limit: int,
    stop: int | None = None,
    *,
    connection: Connection | None = None,
) -> list[Notified]:
    """The next page of the log; read through ``connection`` when the caller holds one (it
    must, if its transaction has written: see ``EventStore.notifications_on``)."""
    page = (
        store.notifications(after=after, limit=limit, stop=stop)
        if connection is None
        else store.notifications_on(connection, after=after, limit=limit, stop=stop)
    )
    return [Notified(n.notification_id, read_envelope(n.raw)) for n in page]


class ProjectionRunner:
    """Brings the views up to the store's notification log, one transaction per batch."""

    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        *,
        projectors: Sequence[Projector] | None = None,
        batch_size: int = 1000,
        name: str = VIEWS,
    ) -> None:
        self.engine = engine
        self.store = store
        self.projectors = tuple(projectors) if projectors is not None else default_projectors()
        self.batch_size = batch_size
        self.name = name
        self.tables = live_tables()
        self._installed = False

    def install(self) -> None:
        """Create the live tables and the tracking row if they are missing (idempotent)."""
        with self.engine.begin() as connection:
            # Processes starting together must not create the same tables concurrently.
            serialise_startup_ddl(connection)
            create_view_tables(connection, self.tables)
            ensure_position(connection, self.name)
            if self.name == VIEWS:
                # A new store's history starts with its views; an older store's waits for
                # build_history (its tracking row is new at 0 while the views stand further).
                create_history_tables(connection)
        self._installed = True

    def position(self) -> Position:
        return read_position(self.engine, self.name)

    def run_batch(self, until: int | None = None) -> int:
        """Apply the next batch (at most ``batch_size`` events of one day, none past ``until``).

        Answers how many events it applied; 0 when the views are up to date.
        """
        return self._run_batch(until)[0]

    def _run_batch(self, until: int | None) -> tuple[int, bool]:
        """The events applied, and whether more may be waiting (a full page, or one cut at
        the end of a day)."""
        if not self._installed:
            self.install()
        with self.engine.begin() as connection:
            position = claim_position(connection, self.name)
            if until is not None and position.notification_id >= until:
                return 0, False
            notified = notified_page(
                self.store,
                position.notification_id,
                self.batch_size,
                stop=until,
                connection=connection,
            )
            if not notified:
                return 0, False
            applied = apply_day_batch(
                connection,
                self.tables,
                self.projectors,
                notified,
                after=position.notification_id,
                history=self.name == VIEWS,
            )
            save_position(
                connection,
                self.name,
                Position(applied[-1].notification_id, position.events + len(applied)),
            )
        return len(applied), len(applied) < len(notified) or len(notified) >= self.batch_size

    def behind(self) -> int:
        """How many events of the log the views have not taken in yet."""
        after = self.position().notification_id
        table, column = self.store.events_table, self.store.position_column
        with self.engine.connect() as connection:
            count = connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} > :after"),  # noqa: S608
                {"after": after},
            ).scalar_one()
        return int(count)

    def catch_up(
        self, until: int | None = None, *, progress: Callable[[int], None] | None = None
    ) -> int:
        """Apply batches until the views include every event (up to notification ``until``).

        Call it after an append, with the append's last notification id, so the answer to the
        request reads its own write. Answers how many events it applied; ``progress`` hears
        that count after every batch.
        """
        applied = 0
        while True:
            done, more = self._run_batch(until)
            applied += done
            if progress is not None and done:
                progress(applied)
            if not more:
                return applied

    def follow(self, poll_interval: float = 1.0, stop: threading.Event | None = None) -> None:
        """Catch up, then poll for new events every ``poll_interval`` seconds until ``stop``.

        A database that cannot be reached is waited for, not fatal; any other error (a corrupt
        event, a bug in a projector) ends the follower, with the views at the last good batch.
        """
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.catch_up()
            except (StoreUnavailable, OperationalError) as error:
                log.warning("projections: the database is unavailable (%s); retrying", error)
            if stop.wait(poll_interval):
                return
