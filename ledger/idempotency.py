"""Idempotency keys (ADR 0002): derived event ids, request fingerprints and the key records.

With an idempotency key, a command's event ids (and a new pledge's id) are derived from the
principal and the key, so a retry can be recognised in the target stream itself even if the
process died between the append and the key's record. The record (principal, key -> request
fingerprint and result) answers later retries and refuses a key reused for another request.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from domain.errors import InvalidInput
from ledger.canonical import canonical_bytes
from ledger.clock import Clock, format_timestamp
from ledger.command_result import AppendedEvent, CommandResult
from ledger.database import idempotency_keys
from ledger.errors import IdempotencyKeyReused
from ledger.store import EventStore

_ID_NAMESPACE = uuid.UUID("6f1f3c2e-8d0a-4d8b-9a57-0c1e5b7f9a10")
MAX_KEY_LENGTH = 256


def check_idempotency_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters", field="idempotency_key"
        )
    return key


def derived_event_id(principal: str, key: str, index: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{principal}\x1f{key}\x1f{index}"))


def derived_pledge_id(principal: str, key: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{principal}\x1f{key}\x1fpledge"))


def request_fingerprint(stream_id: str, command: BaseModel) -> str:
    body = {
        "stream": stream_id,
        "command": type(command).__name__,
        "input": command.model_dump(mode="json"),
    }
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """One command sent with an idempotency key: what identifies it and where it writes."""

    principal: str
    key: str
    fingerprint: str
    stream_id: str
    pledge_id: str | None

    def event_id(self, index: int) -> str:
        return derived_event_id(self.principal, self.key, index)

    def same_key(self, other: IdempotentRequest) -> bool:
        return (self.principal, self.key) == (other.principal, other.key)

    def check_same_request(self, other: IdempotentRequest) -> None:
        if self.fingerprint != other.fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was first used for a different request",
                field="idempotency_key",
            )

    def stored_result(self, store: EventStore) -> CommandResult | None:
        """The result the request had the first time, found by its derived ids in its stream."""
        stored = {e.event_id: e for e in store.read_stream(self.stream_id)}
        events: list[AppendedEvent] = []
        while (envelope := stored.get(self.event_id(len(events)))) is not None:
            events.append(AppendedEvent.of(envelope))
        if not events:
            return None
        return CommandResult(self.stream_id, tuple(events), self.pledge_id, replayed=True)


class IdempotencyRecords:
    """The ``ledger_idempotency_keys`` table: the first result of every keyed request."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def find(self, request: IdempotentRequest) -> CommandResult | None:
        """The recorded first result; refuses a key first used for another request."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(idempotency_keys.c.request_sha256, idempotency_keys.c.result).where(
                    idempotency_keys.c.principal == request.principal,
                    idempotency_keys.c.idempotency_key == request.key,
                )
            ).first()
        if row is None:
            return None
        if row.request_sha256 != request.fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was first used for a different request",
                field="idempotency_key",
            )
        return CommandResult.from_json(row.result, replayed=True)

    def record(self, entries: Iterable[tuple[IdempotentRequest, CommandResult]]) -> None:
        """Record first results; a key another process recorded first keeps its record."""
        created_at = format_timestamp(self._clock.now())
        with self._engine.begin() as connection:
            for request, result in entries:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(idempotency_keys).values(
                                principal=request.principal,
                                idempotency_key=request.key,
                                request_sha256=request.fingerprint,
                                result=result.to_json().decode(),
                                created_at=created_at,
                            )
                        )
                except SQLIntegrityError:
                    continue
