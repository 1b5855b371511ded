"""Published reports, read from the log: every ``report.published`` event, in leaf order.

Publications are few (a handful per forum) and each is its own stream (``report:<sha256 of the
bytes published>``), so they are read from the event store itself, like the keys' history, and
not kept in a view table: there is nothing to fold, and the answer is the log's own word.
"""

from __future__ import annotations

from sqlalchemy import Engine

from domain.events import ReportPublished
from domain.publication import publication_stream
from ledger.envelope import Envelope
from ledger.log import LogError, TransparencyLog
from ledger.store import EventStore
from projections.models import PublishedReportOut


def _published(envelope: Envelope, log: TransparencyLog) -> PublishedReportOut:
    payload = envelope.decode_payload()
    assert isinstance(payload, ReportPublished)  # the stream kind admits nothing else
    try:
        leaf_index: int | None = log.leaf(envelope.event_id).leaf_index
    except LogError:
        leaf_index = None
    return PublishedReportOut(
        event_id=envelope.event_id,
        recorded_at=envelope.recorded_at,
        recorded_by=envelope.recorded_by,
        leaf_index=leaf_index,
        **payload.model_dump(),
    )


def published_reports(
    store: EventStore, engine: Engine, log: TransparencyLog
) -> list[PublishedReportOut]:
    """Every published report, oldest first."""
    with engine.connect() as connection:
        stream_ids = store.stream_ids(connection, "report")
    found = [
        _published(envelope, log)
        for stream_id in stream_ids
        for envelope in store.read_stream(stream_id)
    ]
    return sorted(found, key=lambda p: (p.recorded_at, p.event_id))


def publication_of(
    store: EventStore, log: TransparencyLog, output_sha256: str
) -> PublishedReportOut | None:
    """The publication of the bytes whose SHA-256 is ``output_sha256``, if any."""
    envelopes = store.read_stream(publication_stream(output_sha256))
    return _published(envelopes[0], log) if envelopes else None
