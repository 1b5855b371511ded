"""The canonical envelope: the one byte string that is stored, hashed into the log and exported.

An envelope is the RFC 8785 encoding of::

    {"event_id", "stream_id", "stream_version", "type", "schema_version",
     "recorded_at", "recorded_by", "on_behalf_of", "occurred_on", "payload"}

The event store keeps these exact bytes as the stored event's state; nothing downstream ever
re-derives them from decoded objects.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.errors import DomainError
from domain.events import EVENT_SPECS, NewEvent, Payload, parse_payload
from ledger.canonical import NotCanonical, canonical_model_bytes, parse_canonical
from ledger.clock import format_timestamp, parse_timestamp
from ledger.errors import CorruptEvent

ENVELOPE_KEYS = frozenset(
    {
        "event_id",
        "stream_id",
        "stream_version",
        "type",
        "schema_version",
        "recorded_at",
        "recorded_by",
        "on_behalf_of",
        "occurred_on",
        "payload",
    }
)
_STREAM_ID = re.compile(r"^(network|city|declaration|pledge):[a-z0-9][a-z0-9-]{0,63}$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope, with the exact bytes it came from."""

    event_id: str
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    recorded_at: str
    recorded_by: str
    on_behalf_of: tuple[str, ...]
    occurred_on: str | None
    payload: dict[str, Any]
    raw: bytes

    # eventsourcing's DomainEventProtocol: an envelope is what the event store puts and gets.
    @property
    def originator_id(self) -> str:
        return self.stream_id

    @property
    def originator_version(self) -> int:
        return self.stream_version

    @property
    def recorded_at_datetime(self) -> datetime:
        return parse_timestamp(self.recorded_at)

    def decode_payload(self) -> Payload:
        return parse_payload(self.type, self.schema_version, self.payload)


def seal(
    new_event: NewEvent,
    *,
    event_id: str,
    stream_id: str,
    stream_version: int,
    recorded_at: datetime,
    recorded_by: str,
) -> Envelope:
    """Give a domain decision its identity, position, time and author, as canonical bytes."""
    spec = EVENT_SPECS[new_event.type]
    payload = new_event.payload.model_dump(mode="json")
    occurred_on = new_event.occurred_on.isoformat() if new_event.occurred_on else None
    body: dict[str, Any] = {
        "event_id": event_id,
        "stream_id": stream_id,
        "stream_version": stream_version,
        "type": new_event.type,
        "schema_version": spec.schema_version,
        "recorded_at": format_timestamp(recorded_at),
        "recorded_by": recorded_by,
        "on_behalf_of": list(new_event.on_behalf_of),
        "occurred_on": occurred_on,
        "payload": payload,
    }
    raw = canonical_model_bytes(body)
    return Envelope(
        event_id=event_id,
        stream_id=stream_id,
        stream_version=stream_version,
        type=new_event.type,
        schema_version=spec.schema_version,
        recorded_at=body["recorded_at"],
        recorded_by=recorded_by,
        on_behalf_of=tuple(new_event.on_behalf_of),
        occurred_on=occurred_on,
        payload=payload,
        raw=raw,
    )


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CorruptEvent(message)


def open_envelope(raw: bytes, *, check_payload: bool = False) -> Envelope:
    """Parse and check envelope bytes: canonical form, every field present and well-formed.

    With ``check_payload`` the payload is also validated against its event type's model.
    """
    try:
        body = parse_canonical(raw)
    except NotCanonical:
        raise
    _require(isinstance(body, dict), "an envelope is a JSON object")
    keys = set(body)
    _require(keys == ENVELOPE_KEYS, f"envelope keys differ: {sorted(keys ^ ENVELOPE_KEYS)}")
    event_id = body["event_id"]
    _require(isinstance(event_id, str) and _is_uuid(event_id), "event_id is not a UUID")
    stream_id = body["stream_id"]
    _require(
        isinstance(stream_id, str) and bool(_STREAM_ID.match(stream_id)), "stream_id malformed"
    )
    version = body["stream_version"]
    _require(isinstance(version, int) and not isinstance(version, bool), "stream_version")
    _require(version >= 1, "stream_version starts at 1")
    event_type = body["type"]
    _require(event_type in EVENT_SPECS, f"unknown event type {event_type!r}")
    _require(event_type.split(".")[0] == stream_id.split(":")[0], "type does not fit stream")
    schema = body["schema_version"]
    _require(isinstance(schema, int) and not isinstance(schema, bool), "schema_version")
    recorded_at = body["recorded_at"]
    _require(
        isinstance(recorded_at, str) and bool(_TIMESTAMP.match(recorded_at)),
        "recorded_at is not an RFC 3339 UTC timestamp with microseconds",
    )
    recorded_by = body["recorded_by"]
    _require(isinstance(recorded_by, str) and bool(recorded_by), "recorded_by is empty")
    on_behalf_of = body["on_behalf_of"]
    _require(
        isinstance(on_behalf_of, list) and all(isinstance(c, str) for c in on_behalf_of),
        "on_behalf_of is not a list of city ids",
    )
    occurred_on = body["occurred_on"]
    if occurred_on is not None:
        _require(isinstance(occurred_on, str), "occurred_on is not a date")
        try:
            date.fromisoformat(occurred_on)
        except ValueError as error:
            raise CorruptEvent("occurred_on is not a date") from error
    payload = body["payload"]
    _require(isinstance(payload, dict), "payload is not an object")
    envelope = Envelope(
        event_id=event_id,
        stream_id=stream_id,
        stream_version=version,
        type=event_type,
        schema_version=schema,
        recorded_at=recorded_at,
        recorded_by=recorded_by,
        on_behalf_of=tuple(on_behalf_of),
        occurred_on=occurred_on,
        payload=payload,
        raw=raw,
    )
    if check_payload:
        try:
            envelope.decode_payload()
        except DomainError as error:
            raise CorruptEvent(f"payload does not match {event_type}: {error}") from error
    return envelope


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
