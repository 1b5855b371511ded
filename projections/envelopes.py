"""Reading envelopes on the projection path, and the as-of cut-off they are filtered by.

``ledger.envelope.open_envelope`` proves that bytes are a canonical envelope (it re-encodes them,
walks every value and checks every field), several times the cost of parsing them. The
projections read bytes the ledger itself sealed and stored, and which the transparency log and
the verifier check independently, so they only parse them, and decode their payloads with
``projections.sealed.decode_sealed``. Anything that is not even a JSON envelope is still refused,
as ``CorruptEvent``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from ledger.envelope import Envelope
from ledger.errors import CorruptEvent


def read_envelope(raw: bytes) -> Envelope:
    """An envelope from stored bytes, parsed but not re-proved canonical (see the module doc)."""
    try:
        body: dict[str, Any] = orjson.loads(raw)
        return Envelope(
            event_id=body["event_id"],
            stream_id=body["stream_id"],
            stream_version=body["stream_version"],
            type=body["type"],
            schema_version=body["schema_version"],
            recorded_at=body["recorded_at"],
            recorded_by=body["recorded_by"],
            on_behalf_of=tuple(body["on_behalf_of"]),
            occurred_on=body["occurred_on"],
            payload=body["payload"],
            raw=raw,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise CorruptEvent(f"stored bytes are not an event envelope: {error!r}") from error


def recorded_on(envelope: Envelope) -> date:
    return date.fromisoformat(envelope.recorded_at[:10])


def recorded_by_end_of(envelope: Envelope, day: date) -> bool:
    """Whether the event was recorded on or before ``day`` (UTC): what "as of ``day``" includes."""
    # recorded_at is "YYYY-MM-DDTHH:MM:SS.ffffffZ": its first ten characters are the UTC date.
    return envelope.recorded_at[:10] <= day.isoformat()
