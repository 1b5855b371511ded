"""The pledge timeline: every event of a pledge, as stored, with its leaf index in the log.

The same reading gives the registry's histories (a city's, a network's, a declaration's
streams): a correction, a departure or a withdrawn signature stays visible there.

The event store already keeps each pledge's events in order, indexed by stream, byte for byte:
the timeline reads them there rather than from a copy (a copy would double the database and
the cost of a rebuild, and could only ever lag behind). The leaf index is joined from the
transparency log's ``log_leaves`` by event id when the timeline is read: it is null until the
log has integrated the event. Each entry carries the exact envelope, so that a reader can hash
it (the leaf hash is SHA-256 of 0x00 and the envelope) and check it against an inclusion proof.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from domain.pledge import pledge_stream
from ledger.database import log_leaves
from ledger.store import EventStore
from projections.models import TimelineEntryOut


def pledge_timeline(
    store: EventStore, connection: Connection, pledge_id: str
) -> list[TimelineEntryOut]:
    """The pledge's events, oldest first (empty if there is no such pledge)."""
    return stream_timeline(store, connection, pledge_stream(pledge_id))


def stream_timeline(
    store: EventStore, connection: Connection, stream_id: str
) -> list[TimelineEntryOut]:
    """A stream's events, oldest first (empty if there is no such stream): a pledge's, or a
    city's, network's or declaration's history, corrections, departures and withdrawals
    included."""
    envelopes = store.read_stream(stream_id)
    if not envelopes:
        return []
    leaves: dict[str, int] = dict(
        connection.execute(
            select(log_leaves.c.event_id, log_leaves.c.leaf_index).where(
                log_leaves.c.event_id.in_([e.event_id for e in envelopes])
            )
        ).all()
    )
    return [
        TimelineEntryOut(
            event_id=e.event_id,
            stream_version=e.stream_version,
            type=e.type,
            recorded_at=e.recorded_at,
            recorded_by=e.recorded_by,
            on_behalf_of=e.on_behalf_of,
            occurred_on=e.occurred_on,
            payload=e.payload,
            leaf_index=leaves.get(e.event_id),
            envelope=e.raw.decode(),
        )
        for e in envelopes
    ]
