"""The event store: an eventsourcing application whose stored state is the canonical envelope.

eventsourcing gives us the recorders (SQLite file or PostgreSQL), the optimistic-concurrency
unique key (stream, version), and the notification log with its global order. Our mapper makes
the stored event's ``state`` the canonical envelope bytes, untouched (no transcoder, no
compression, no cipher), and its ``topic`` the stable event type string.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.utils import Environment, EnvType
from sqlalchemy import ColumnElement, Connection, literal_column, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.database import startup_ddl_lock
from ledger.envelope import Envelope, open_envelope
from ledger.errors import ConcurrencyConflict, StoreUnavailable
from ledger.settings import LedgerSettings

DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)
"""What the database drivers raise when their cursors are read directly."""


class EnvelopeMapper(Mapper[str]):
    """Maps envelopes to stored events byte for byte, and back."""

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        envelope = cast(Envelope, domain_event)
        return StoredEvent(
            originator_id=envelope.stream_id,
            originator_version=envelope.stream_version,
            topic=envelope.type,
            state=envelope.raw,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        return open_envelope(stored_event.state)


class LedgerApplication(Application[str]):
    """The eventsourcing application behind the ledger (tables: ``ledger_events`` on PostgreSQL,
    ``stored_events`` in the SQLite file)."""

    name = "Ledger"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Only our settings: os.environ must never redirect or reconfigure the event store.
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[str]:
        return EnvelopeMapper(transcoder=self.factory.transcoder())


@dataclass(frozen=True, slots=True)
class StoredEnvelope:
    """An envelope with its position in the global notification order."""

    notification_id: int
    raw: bytes
    stream_id: str
    stream_version: int
    type: str


class EventStore:
    """Appends envelopes atomically and reads streams and the notification log."""

    def __init__(self, settings: LedgerSettings) -> None:
        self.settings = settings
        try:
            # The recorder creates its tables, type and index now; processes starting together
            # take turns (see ``ledger.database.STARTUP_LOCK_KEY``).
            with startup_ddl_lock(settings):
                self.app = LedgerApplication(env=settings.eventsourcing_env())
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"cannot open the event store: {error}") from error
        self.recorder = self.app.recorder
        if settings.backend == "sqlite":
            # The recorder's SQLite pool queues every request behind a writer that waits for
            # the file's write lock, but gives up after its own fixed 5 s. A reader queued
            # there must wait as long as the writer may: the configured lock timeout.
            pool = self.recorder.datastore.pool  # type: ignore[attr-defined]
            pool.pool_timeout = float(settings.sqlite_lock_timeout_seconds)

    @property
    def events_table(self) -> str:
        if self.settings.backend == "sqlite":
            return "stored_events"
        schema = self.settings.database_schema or "public"
        return f"{schema}.ledger_events"

    @property
    def position_column(self) -> str:
        """The events table's column of notification ids."""
        return "rowid" if self.settings.backend == "sqlite" else "notification_id"

    @property
    def _mark(self) -> str:
        """The driver's placeholder, for statements run through ``_driver_rows``."""
        return "?" if self.settings.backend == "sqlite" else "%s"

    def close(self) -> None:
        self.app.close()

    def append(self, envelopes: Sequence[Envelope]) -> list[int]:
        """Store all envelopes in one transaction, or none; answer their notification ids."""
        if not envelopes:
            return []
        try:
            recordings = self.app.events.put(list(envelopes))
        except IntegrityError as error:
            first = envelopes[0]
            raise ConcurrencyConflict(
                f"stream {first.stream_id} already has a version the append expected to write",
                stream_id=first.stream_id,
                expected=None,
                actual=-1,
            ) from error
        except (InterfaceError, OperationalError) as error:
            raise StoreUnavailable(f"the event store refused the append: {error}") from error
        return [recording.notification.id for recording in recordings]

    def read_stream(self, stream_id: str, *, after_version: int = 0) -> list[Envelope]:
        try:
            stored = self.recorder.select_events(stream_id, gt=after_version or None)
        except (InterfaceError, OperationalError) as error:
            raise StoreUnavailable(f"cannot read stream {stream_id}: {error}") from error
        return [open_envelope(s.state) for s in stored]

    def stream_ids(self, connection: Connection, kind: str) -> list[str]:
        """The ids of the streams of one kind (``apikey``, ``network``…), sorted.

        One statement on the events table through ``connection`` (an engine on the store's
        database), so that a read-only command can list, for instance, every key ever issued.
        """
        table = self.events_table
        statement = (
            f"SELECT DISTINCT originator_id FROM {table} "  # noqa: S608
            f"WHERE originator_id LIKE {self._mark} ORDER BY originator_id"
        )
        rows = _driver_rows(connection, statement, [f"{kind}:%"], "the event store")
        return sorted(str(stream_id) for (stream_id,) in rows)

    def stream_version(self, stream_id: str) -> int:
        stored = self.recorder.select_events(stream_id, desc=True, limit=1)
        return stored[0].originator_version if stored else 0

    def max_notification_column(self) -> ColumnElement[Any]:
        """The largest notification id stored, as a scalar subquery for a statement on an
        engine of the store's database (``None`` before the first event)."""
        return literal_column(
            f"(SELECT max({self.position_column}) FROM {self.events_table})"  # noqa: S608
        )

    def max_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0

    def notifications(
        self, *, after: int = 0, limit: int = 1000, stop: int | None = None
    ) -> list[StoredEnvelope]:
        """Envelopes in notification order, strictly after ``after`` (ids may have gaps)."""
        try:
            selected: Sequence[Notification] = self.recorder.select_notifications(
                start=after, limit=limit, stop=stop, inclusive_of_start=False
            )
        except (InterfaceError, OperationalError) as error:
            raise StoreUnavailable(f"cannot read the notification log: {error}") from error
        return [
            StoredEnvelope(n.id, n.state, str(n.originator_id), n.originator_version, n.topic)
            for n in selected
        ]

    def notifications_on(
        self, connection: Connection, *, after: int = 0, limit: int = 1000, stop: int | None = None
    ) -> list[StoredEnvelope]:
        """What :meth:`notifications` answers, read through ``connection`` (an engine on the
        store's database) inside the caller's transaction.

        A caller that holds a write lock on the database (a projection batch, the log's
        integrator) must read the log this way: asking the recorder's own connection pool
        instead would queue it behind an appending writer that is itself waiting for that lock,
        and both would wait out their timeouts.
        """
        mark = self._mark
        position, table = self.position_column, self.events_table
        where = f"{position} > {mark}"
        parameters: list[object] = [after]
        if stop is not None:
            where += f" AND {position} <= {mark}"
            parameters.append(stop)
        parameters.append(limit)
        statement = (
            f"SELECT {position}, state, originator_id, originator_version, topic "  # noqa: S608
            f"FROM {table} WHERE {where} ORDER BY {position} LIMIT {mark}"
        )
        rows = cast(
            list[tuple[int, bytes, str, int, str]],
            _driver_rows(connection, statement, parameters, "the notification log"),
        )
        return [
            StoredEnvelope(n, bytes(raw), str(stream), version, topic)
            for n, raw, stream, version, topic in rows
        ]

    def scan_streams(
        self,
        connection: Connection,
        *,
        head: int,
        after: tuple[str, int] = ("", 0),
        below: str | None = None,
        limit: int,
    ) -> list[tuple[str, int, bytes]]:
        """``(stream id, version, bytes)`` of the envelopes with notification ids up to ``head``, in
        stream order (stream id, then version), strictly after the position ``after`` (a stream
        id and version) and, with ``below``, in streams whose ids sort before it; at most
        ``limit``.

        The bulk read of a rebuild: one SQL statement a page on the events table's primary key,
        through ``connection`` (an engine on the store's database), rather than the recorder's
        objects for every event. The order of stream ids is the database's own, the same in
        every statement, so positions and bounds taken from one page serve the next.
        """
        mark = self._mark
        position, table = self.position_column, self.events_table
        where = f"(originator_id, originator_version) > ({mark}, {mark}) AND {position} <= {mark}"
        parameters: list[object] = [after[0], after[1], head]
        if below is not None:
            where += f" AND originator_id < {mark}"
            parameters.append(below)
        parameters.append(limit)
        statement = (
            f"SELECT originator_id, originator_version, state FROM {table} "  # noqa: S608
            f"WHERE {where} ORDER BY originator_id, originator_version LIMIT {mark}"
        )
        return cast(
            list[tuple[str, int, bytes]],
            _driver_rows(connection, statement, parameters, "the event store"),
        )

    def stream_bounds(
        self, connection: Connection, *, head: int, start: str, parts: int
    ) -> list[str]:
        """Stream ids that cut the streams from ``start`` on (up to ``head``) into ``parts``
        runs of about as many events each: part i holds the streams from bound i (``start`` for
        the first) to bound i + 1. A stream is never cut."""
        position, table = self.position_column, self.events_table
        where = f"originator_id >= :start AND {position} <= :head"
        try:
            total = connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE {where}"),  # noqa: S608
                {"start": start, "head": head},
            ).scalar_one()
            bounds = [start]
            for part in range(1, parts):
                bound = connection.execute(
                    text(
                        f"SELECT originator_id FROM {table} WHERE {where} "  # noqa: S608
                        "ORDER BY originator_id, originator_version LIMIT 1 OFFSET :skip"
                    ),
                    {"start": start, "head": head, "skip": total * part // parts},
                ).scalar_one_or_none()
                bounds.append(bound if bound is not None else bounds[-1])
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the event store: {error}") from error
        return bounds

    def iter_notifications(self, *, after: int = 0, batch: int = 5000) -> Iterator[StoredEnvelope]:
        position = after
        while True:
            page = self.notifications(after=position, limit=batch)
            if not page:
                return
            yield from page
            position = page[-1].notification_id


def _driver_rows(
    connection: Connection, statement: str, parameters: list[object], what: str
) -> list[tuple[object, ...]]:
    """Run ``statement`` on the driver's own cursor: rows come back as plain tuples, without a
    result-row object each, which a rebuild reading every event notices (benchmarks/RESULTS.md)."""
    try:
        result = connection.exec_driver_sql(statement, tuple(parameters))
        rows = cast(list[tuple[object, ...]], result.cursor.fetchall())
        result.close()
    except (SQLAlchemyError, *DRIVER_ERRORS) as error:
        raise StoreUnavailable(f"cannot read {what}: {error}") from error
    return rows
