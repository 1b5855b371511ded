"""The event store: an eventsourcing application whose stored state is the canonical envelope.

eventsourcing gives us the recorders (SQLite file or PostgreSQL), the optimistic-concurrency
unique key (stream, version), and the notification log with its global order. Our mapper makes
the stored event's ``state`` the canonical envelope bytes, untouched (no transcoder, no
compression, no cipher), and its ``topic`` the stable event type string.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

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
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.envelope import Envelope, open_envelope
from ledger.errors import ConcurrencyConflict, StoreUnavailable
from ledger.settings import LedgerSettings


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


def stream_shard(stream_id: str, shares: int) -> int:
    """Which of ``shares`` parts a stream falls in: the same in every process and every run."""
    return zlib.crc32(stream_id.encode()) % shares


SQLITE_STREAM_SHARD = "ledger_stream_shard"
"""``stream_shard`` as an SQL function on every SQLite connection of the ledger's engine."""


@dataclass(frozen=True, slots=True)
class StreamSplit:
    """Part ``index`` of ``shares`` of the streams whose ids start with ``prefix``; every other
    stream belongs to every part."""

    prefix: str
    index: int
    shares: int


class EventStore:
    """Appends envelopes atomically and reads streams and the notification log."""

    def __init__(self, settings: LedgerSettings) -> None:
        self.settings = settings
        try:
            self.app = LedgerApplication(env=settings.eventsourcing_env())
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"cannot open the event store: {error}") from error
        self.recorder = self.app.recorder

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

    def stream_version(self, stream_id: str) -> int:
        stored = self.recorder.select_events(stream_id, desc=True, limit=1)
        return stored[0].originator_version if stored else 0

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

    def scan(
        self,
        connection: Connection,
        *,
        after: int,
        stop: int,
        limit: int,
        split: StreamSplit | None = None,
    ) -> list[tuple[int, str, bytes]]:
        """``(notification id, stream id, bytes)`` of the stored envelopes with ids in
        ``(after, stop]``, in order, at most ``limit``; with ``split``, only that part's.

        The bulk read of a rebuild: one SQL statement on the events table through ``connection``
        (an engine on the store's database), rather than the recorder's objects for every event;
        a split is filtered by the database, so that each part reads only its own events.
        """
        position, table = self.position_column, self.events_table
        where = f"{position} > :after AND {position} <= :stop"
        parameters: dict[str, object] = {"after": after, "stop": stop, "limit": limit}
        if split is not None:
            if self.settings.backend == "sqlite":
                shard = f"{SQLITE_STREAM_SHARD}(originator_id, :shares)"
            else:  # any stable hash will do, as long as one query uses one
                shard = "(hashtext(originator_id)::bigint & 2147483647) % :shares"
            where += f" AND (substr(originator_id, 1, :length) != :prefix OR {shard} = :index)"
            parameters.update(
                prefix=split.prefix,
                length=len(split.prefix),
                shares=split.shares,
                index=split.index,
            )
        statement = text(
            f"SELECT {position}, originator_id, state FROM {table} "  # noqa: S608 (names are ours)
            f"WHERE {where} ORDER BY {position} LIMIT :limit"
        )
        try:
            rows = connection.execute(statement, parameters).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the notification log: {error}") from error
        return [(row[0], row[1], bytes(row[2])) for row in rows]

    def iter_notifications(self, *, after: int = 0, batch: int = 5000) -> Iterator[StoredEnvelope]:
        position = after
        while True:
            page = self.notifications(after=position, limit=batch)
            if not page:
                return
            yield from page
            position = page[-1].notification_id
