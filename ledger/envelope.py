"""The canonical envelope: the one byte string that is stored, hashed into the log and exported.

An envelope is the RFC 8785 encoding of::

    {"event_id", "stream_id", "stream_version", "type", "schema_version",
     "recorded_at", "recorded_by", "on_behalf_of", "occurred_on", "payload"}

The event store keeps these exact bytes as the stored event's state; nothing downstream ever
re-derives them from decoded objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from domain.errors import DomainError
from domain.events import EVENT_SPECS, NewEvent, Payload, parse_payload
from ledger.canonical import canonical_model_bytes, parse_canonical
from ledger.clock import format_timestamp
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
_STREAM_ID = re.compile(
    r"^(network|city|declaration|pledge|apikey|area|call|extid|report):[a-z0-9][a-z0-9-]{0,63}\Z"
)
_STREAM_KIND = {event_type: event_type.split(".", 1)[0] + ":" for event_type in EVENT_SPECS}
_DATE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\Z")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")


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


def _fail(message: str) -> NoReturn:
    raise CorruptEvent(message)


def check_envelope(body: Any) -> None:
    """Check a parsed envelope's shape: every field present and well-formed.

    Written as plain ifs, without building objects: it runs once per entry when an auditor
    verifies a bundle.
    """
    if type(body) is not dict:
        _fail("an envelope is a JSON object")
    if body.keys() != ENVELOPE_KEYS:
        _fail(f"envelope keys differ: {sorted(set(body) ^ ENVELOPE_KEYS)}")
    event_id = body["event_id"]
    if type(event_id) is not str or not _UUID.match(event_id):
        _fail("event_id is not a lowercase UUID")
    stream_id = body["stream_id"]
    if type(stream_id) is not str or not _STREAM_ID.match(stream_id):
        _fail("stream_id is malformed")
    version = body["stream_version"]
    if type(version) is not int or version < 1:
        _fail("stream_version is not a positive integer")
    event_type = body["type"]
    if event_type not in EVENT_SPECS:
        _fail(f"unknown event type {event_type!r}")
    if not stream_id.startswith(_STREAM_KIND[event_type]):
        _fail(f"a {event_type} event does not belong in stream {stream_id}")
    schema = body["schema_version"]
    if type(schema) is not int or schema < 1:
        _fail("schema_version is not a positive integer")
    recorded_at = body["recorded_at"]
    if type(recorded_at) is not str or not _TIMESTAMP.match(recorded_at):
        _fail("recorded_at is not an RFC 3339 UTC timestamp with microseconds")
    recorded_by = body["recorded_by"]
    if type(recorded_by) is not str or not recorded_by:
        _fail("recorded_by is empty")
    on_behalf_of = body["on_behalf_of"]
    if type(on_behalf_of) is not list:
        _fail("on_behalf_of is not a list of city ids")
    for city_id in on_behalf_of:
        if type(city_id) is not str:
            _fail("on_behalf_of is not a list of city ids")
    occurred_on = body["occurred_on"]
    if occurred_on is not None and (type(occurred_on) is not str or not _DATE.match(occurred_on)):
        _fail("occurred_on is not a date")
    if type(body["payload"]) is not dict:
        _fail("payload is not an object")


def open_envelope(raw: bytes, *, check_payload: bool = False) -> Envelope:
    """Parse and check envelope bytes: canonical form, every field present and well-formed.

    With ``check_payload`` the payload is also validated against its event type's model.
    """
    body = parse_canonical(raw)
    check_envelope(body)
    envelope = Envelope(
        body["event_id"],
        body["stream_id"],
        body["stream_version"],
        body["type"],
        body["schema_version"],
        body["recorded_at"],
        body["recorded_by"],
        tuple(body["on_behalf_of"]),
        body["occurred_on"],
        body["payload"],
        raw,
    )
    if check_payload:
        try:
            envelope.decode_payload()
        except DomainError as error:
            raise CorruptEvent(f"payload does not match {envelope.type}: {error}") from error
    return envelope


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
