"""The ledger's command side: load states, let the domain decide, seal and append.

Every command runs in a ``Batch`` (a unit of work): states are loaded through a per-process
stream cache that is always brought up to date from the store (only newer events are read), the
domain's pure decision returns new events, the ledger seals them into canonical envelopes, and
the batch appends everything in one transaction. A single command is a batch of one; the demo
and the CSV import run thousands of commands per batch, all or none.

Idempotency: with an idempotency key, event ids (and a new pledge's id) are derived from the
principal and the key, so a retry can be recognised in the target stream itself even if the
process died between the append and the idempotency record; the record (key -> request
fingerprint and result) answers later retries and refuses a key reused for another request.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from domain import pledge as pledges
from domain import registry
from domain.errors import InvalidInput, NotFound
from domain.events import NewEvent, Payload, invalid_input_from
from domain.pledge import PledgeState, evolve_pledge, pledge_stream
from domain.principal import Principal
from domain.registry import (
    CityState,
    DeclarationState,
    NetworkState,
    city_stream,
    declaration_stream,
    network_stream,
)
from domain.taxonomies import Taxonomies
from domain.values import check_slug
from ledger.canonical import canonical_bytes
from ledger.clock import Clock, IdFactory, format_timestamp
from ledger.database import idempotency_keys
from ledger.envelope import Envelope, seal
from ledger.errors import ConcurrencyConflict, IdempotencyKeyReused
from ledger.store import EventStore

_ID_NAMESPACE = uuid.UUID("6f1f3c2e-8d0a-4d8b-9a57-0c1e5b7f9a10")

Evolver = Callable[[Any, Payload], Any]
EVOLVERS: dict[str, Evolver] = {
    "network": registry.evolve_network,
    "city": registry.evolve_city,
    "declaration": registry.evolve_declaration,
    "pledge": evolve_pledge,
}


M = TypeVar("M", bound=BaseModel)


def parse_command(model: type[M], data: Mapping[str, Any] | M) -> M:
    """Validate raw input into a command model, turning pydantic's errors into one clear line."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input_from(error) from error


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """A stream's folded state at a version, and the ids of all its events."""

    stream_id: str
    version: int
    state: Any
    event_ids: frozenset[str]

    def fold(
        self, envelopes: list[Envelope], payloads: list[Payload] | None = None
    ) -> StreamSnapshot:
        """Fold newer events in; ``payloads`` saves decoding events this process just decided."""
        if not envelopes:
            return self
        evolve = EVOLVERS[self.stream_id.split(":", 1)[0]]
        state = self.state
        if payloads is None:
            payloads = [envelope.decode_payload() for envelope in envelopes]
        for payload in payloads:
            state = evolve(state, payload)
        ids = self.event_ids | {e.event_id for e in envelopes}
        return StreamSnapshot(self.stream_id, envelopes[-1].stream_version, state, ids)


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    event_id: str
    stream_id: str
    stream_version: int
    type: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command stored (or, for a recognised retry, had stored the first time)."""

    stream_id: str
    events: tuple[AppendedEvent, ...]
    pledge_id: str | None = None
    replayed: bool = False

    @property
    def stream_version(self) -> int:
        return self.events[-1].stream_version

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "stream_id": self.stream_id,
                "pledge_id": self.pledge_id,
                "events": [
                    [e.event_id, e.stream_id, e.stream_version, e.type] for e in self.events
                ],
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str, *, replayed: bool) -> CommandResult:
        raw = orjson.loads(data)
        return cls(
            stream_id=raw["stream_id"],
            pledge_id=raw["pledge_id"],
            events=tuple(AppendedEvent(*e) for e in raw["events"]),
            replayed=replayed,
        )


class StreamCache:
    """Bounded LRU of folded stream states, shared by the process's batches."""

    def __init__(self, max_streams: int = 200_000) -> None:
        self._items: OrderedDict[str, StreamSnapshot] = OrderedDict()
        self._max = max_streams
        self._lock = threading.Lock()

    def get(self, stream_id: str) -> StreamSnapshot | None:
        with self._lock:
            snapshot = self._items.get(stream_id)
            if snapshot is not None:
                self._items.move_to_end(stream_id)
            return snapshot

    def put(self, snapshot: StreamSnapshot) -> None:
        with self._lock:
            current = self._items.get(snapshot.stream_id)
            if current is not None and current.version > snapshot.version:
                return
            self._items[snapshot.stream_id] = snapshot
            self._items.move_to_end(snapshot.stream_id)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def discard(self, stream_id: str) -> None:
        with self._lock:
            self._items.pop(stream_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class _PendingKey:
    principal: str
    key: str
    fingerprint: str
    result: CommandResult


@dataclass
class Batch:
    """A unit of work: commands decided against a private overlay, appended all or none."""

    ledger: Ledger
    overlay: dict[str, StreamSnapshot] = field(default_factory=dict)
    fresh: dict[str, StreamSnapshot] = field(default_factory=dict)
    pending: list[Envelope] = field(default_factory=list)
    pending_keys: list[_PendingKey] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)
    # The store's position when this batch first read it, after which every cached stream is
    # known complete (see Ledger.sync_cache); None until the batch loads its first stream.
    synced_at: int | None = None

    # --- loading ----------------------------------------------------------------------------------

    def load(self, stream_id: str) -> StreamSnapshot:
        """The stream as this batch sees it: its own pending events on top of the store's."""
        if stream_id in self.overlay:
            return self.overlay[stream_id]
        if stream_id in self.fresh:
            return self.fresh[stream_id]
        if self.synced_at is None:
            self.synced_at = self.ledger.sync_cache()
        snapshot = self.ledger.cache.get(stream_id)
        if snapshot is None:
            empty = StreamSnapshot(stream_id, 0, None, frozenset())
            snapshot = empty.fold(self.ledger.store.read_stream(stream_id))
            self.ledger.cache.put(snapshot)
        self.fresh[stream_id] = snapshot
        return snapshot

    def network(self, network_id: str) -> NetworkState | None:
        state: NetworkState | None = self.load(network_stream(network_id)).state
        return state

    def city(self, city_id: str) -> CityState | None:
        state: CityState | None = self.load(city_stream(city_id)).state
        return state

    def cities(self, city_ids: tuple[str, ...]) -> dict[str, CityState | None]:
        return {city_id: self.city(city_id) for city_id in city_ids}

    def declaration(self, declaration_id: str) -> DeclarationState | None:
        state: DeclarationState | None = self.load(declaration_stream(declaration_id)).state
        return state

    def pledge(self, pledge_id: str) -> tuple[StreamSnapshot, PledgeState]:
        snapshot = self.load(pledge_stream(pledge_id))
        if snapshot.state is None:
            raise NotFound(f"pledge {pledge_id} does not exist", field="pledge_id")
        state: PledgeState = snapshot.state
        return snapshot, state

    # --- the shared path of every command ---------------------------------------------------------

    def _execute(
        self,
        principal: Principal,
        stream_id: str,
        command: BaseModel,
        decide: Callable[[StreamSnapshot], list[NewEvent]],
        *,
        idempotency_key: str | None,
        expected_version: int | None,
        pledge_id: str | None = None,
    ) -> CommandResult:
        fingerprint = ""
        if idempotency_key is not None:
            fingerprint = _fingerprint(stream_id, command)
            earlier = self.ledger.find_idempotent_result(principal, idempotency_key, fingerprint)
            if earlier is not None:
                self.results.append(earlier)
                return earlier
        snapshot = self.load(stream_id)
        if idempotency_key is not None:
            first_id = _derived_event_id(principal, idempotency_key, 0)
            if first_id in snapshot.event_ids:
                # Stored before, but the process died before the idempotency record.
                result = self.ledger.result_from_stream(stream_id, first_id, pledge_id)
                self.results.append(result)
                return result
        if expected_version is not None and expected_version != snapshot.version:
            raise ConcurrencyConflict(
                f"{stream_id} is at version {snapshot.version}, not {expected_version}",
                stream_id=stream_id,
                expected=expected_version,
                actual=snapshot.version,
            )
        new_events = decide(snapshot)
        now = self.ledger.clock.now()
        envelopes = []
        for n, new_event in enumerate(new_events):
            if idempotency_key is not None:
                event_id = _derived_event_id(principal, idempotency_key, n)
            else:
                event_id = self.ledger.ids()
            envelopes.append(
                seal(
                    new_event,
                    event_id=event_id,
                    stream_id=stream_id,
                    stream_version=snapshot.version + n + 1,
                    recorded_at=now,
                    recorded_by=principal.key_id,
                )
            )
        self.overlay[stream_id] = snapshot.fold(envelopes, [e.payload for e in new_events])
        self.pending.extend(envelopes)
        result = CommandResult(
            stream_id=stream_id,
            events=tuple(
                AppendedEvent(e.event_id, e.stream_id, e.stream_version, e.type) for e in envelopes
            ),
            pledge_id=pledge_id,
        )
        if idempotency_key is not None:
            self.pending_keys.append(
                _PendingKey(principal.key_id, idempotency_key, fingerprint, result)
            )
        self.results.append(result)
        return result

    def today(self) -> date:
        return self.ledger.clock.now().date()

    # --- registry commands ------------------------------------------------------------------------

    def register_network(
        self,
        principal: Principal,
        command: registry.RegisterNetwork | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        cmd = parse_command(registry.RegisterNetwork, command)
        return self._execute(
            principal,
            network_stream(cmd.id),
            cmd,
            lambda s: registry.register_network(cmd, s.state, principal),
            idempotency_key=idempotency_key,
            expected_version=None,
        )

    def register_city(
        self,
        principal: Principal,
        command: registry.RegisterCity | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        cmd = parse_command(registry.RegisterCity, command)
        return self._execute(
            principal,
            city_stream(cmd.id),
            cmd,
            lambda s: registry.register_city(cmd, s.state, principal),
            idempotency_key=idempotency_key,
            expected_version=None,
        )

    def join_network(
        self,
        principal: Principal,
        network_id: str,
        command: registry.JoinNetwork | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(registry.JoinNetwork, command)
        return self._execute(
            principal,
            network_stream(_slug(network_id, "network_id")),
            cmd,
            lambda s: registry.join_network(
                network_id, cmd, s.state, self.city(cmd.city_id), principal
            ),
            idempotency_key=idempotency_key,
            expected_version=expected_version,
        )

    def leave_network(
        self,
        principal: Principal,
        network_id: str,
        command: registry.LeaveNetwork | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(registry.LeaveNetwork, command)
        return self._execute(
            principal,
            network_stream(_slug(network_id, "network_id")),
            cmd,
            lambda s: registry.leave_network(network_id, cmd, s.state, principal),
            idempotency_key=idempotency_key,
            expected_version=expected_version,
        )

    def sign_declaration(
        self,
        principal: Principal,
        declaration_id: str,
        command: registry.SignDeclaration | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        cmd = parse_command(registry.SignDeclaration, command)
        acting = self.network(principal.network_id) if principal.network_id else None
        return self._execute(
            principal,
            declaration_stream(_slug(declaration_id, "declaration_id")),
            cmd,
            lambda s: registry.sign_declaration(
                declaration_id,
                cmd,
                s.state,
                self.city(cmd.city_id),
                acting,
                principal,
                self.today(),
            ),
            idempotency_key=idempotency_key,
            expected_version=None,
        )

    # --- pledge commands --------------------------------------------------------------------------

    def submit_pledge(
        self,
        principal: Principal,
        command: pledges.SubmitPledge | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.SubmitPledge, command)
        if idempotency_key is not None:
            pledge_id = str(
                uuid.uuid5(_ID_NAMESPACE, f"{principal.key_id}\x1f{idempotency_key}\x1fpledge")
            )
        else:
            pledge_id = self.ledger.ids()

        def decide(snapshot: StreamSnapshot) -> list[NewEvent]:
            if snapshot.version:
                raise ConcurrencyConflict(
                    f"pledge {pledge_id} already exists",
                    stream_id=snapshot.stream_id,
                    expected=0,
                    actual=snapshot.version,
                )
            return pledges.submit_pledge(
                cmd,
                pledge_id,
                self.network(cmd.network_id),
                self.cities(cmd.cities),
                principal,
                self.ledger.taxonomies,
            )

        return self._execute(
            principal,
            pledge_stream(pledge_id),
            cmd,
            decide,
            idempotency_key=idempotency_key,
            expected_version=None,
            pledge_id=pledge_id,
        )

    def _pledge_command(
        self,
        principal: Principal,
        pledge_id: str,
        command: BaseModel,
        decide: Callable[[StreamSnapshot, PledgeState], list[NewEvent]],
        idempotency_key: str | None,
        expected_version: int | None,
    ) -> CommandResult:
        stream_id = pledge_stream(_pledge_id(pledge_id))

        def run(snapshot: StreamSnapshot) -> list[NewEvent]:
            if snapshot.state is None:
                raise NotFound(f"pledge {pledge_id} does not exist", field="pledge_id")
            return decide(snapshot, snapshot.state)

        return self._execute(
            principal,
            stream_id,
            command,
            run,
            idempotency_key=idempotency_key,
            expected_version=expected_version,
            pledge_id=pledge_id,
        )

    def amend_pledge(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.AmendPledge | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.AmendPledge, command)

        def decide(_: StreamSnapshot, state: PledgeState) -> list[NewEvent]:
            added = tuple(c for c in (cmd.changes.cities or ()) if c not in state.content.cities)
            return pledges.amend_pledge(
                state,
                cmd,
                self.network(state.network_id) if added else None,
                self.cities(added),
                principal,
                self.ledger.taxonomies,
            )

        return self._pledge_command(
            principal, pledge_id, cmd, decide, idempotency_key, expected_version
        )

    def validate_pledge(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.ValidatePledge | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.ValidatePledge, command)
        return self._pledge_command(
            principal,
            pledge_id,
            cmd,
            lambda _, state: pledges.vet_pledge(state, cmd, principal),
            idempotency_key,
            expected_version,
        )

    def report_progress(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.ReportProgress | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.ReportProgress, command)
        return self._pledge_command(
            principal,
            pledge_id,
            cmd,
            lambda _, state: pledges.report_progress(state, cmd, principal, self.today()),
            idempotency_key,
            expected_version,
        )

    def match_pledge(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.MatchPledge | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.MatchPledge, command)

        def decide(_: StreamSnapshot, state: PledgeState) -> list[NewEvent]:
            supporting: PledgeState | None = None
            if cmd.supporting_pledge_id is not None:
                supporting = self.load(pledge_stream(_pledge_id(cmd.supporting_pledge_id))).state
            return pledges.match_pledge(state, cmd, supporting, principal)

        return self._pledge_command(
            principal, pledge_id, cmd, decide, idempotency_key, expected_version
        )

    def withdraw_pledge(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.WithdrawPledge | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.WithdrawPledge, command)
        return self._pledge_command(
            principal,
            pledge_id,
            cmd,
            lambda _, state: pledges.withdraw_pledge(state, cmd, principal),
            idempotency_key,
            expected_version,
        )

    def close_pledge(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.ClosePledge | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.ClosePledge, command)
        return self._pledge_command(
            principal,
            pledge_id,
            cmd,
            lambda _, state: pledges.close_pledge(state, cmd, principal, self.today()),
            idempotency_key,
            expected_version,
        )

    def record_erratum(
        self,
        principal: Principal,
        pledge_id: str,
        command: pledges.RecordErratum | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        cmd = parse_command(pledges.RecordErratum, command)
        return self._pledge_command(
            principal,
            pledge_id,
            cmd,
            lambda snapshot, state: pledges.record_erratum(
                state, cmd, snapshot.event_ids, principal
            ),
            idempotency_key,
            expected_version,
        )


class Ledger:
    """The write side: commands in, canonical envelopes appended to the event store."""

    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        *,
        clock: Clock,
        ids: IdFactory,
        taxonomies: Taxonomies,
        after_append: Callable[[int], object] | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.ids = ids
        self.taxonomies = taxonomies
        self.cache = StreamCache()
        self.after_append = after_append
        # Every cached stream holds all its events up to this notification id (None: unknown).
        self._synced_position: int | None = None
        self._sync_lock = threading.Lock()

    def sync_cache(self) -> int:
        """Make every cached stream current without reading every stream again.

        If the store has not moved since this process last knew it, the cache is current. If it
        moved a little (another process wrote), drop just the streams it touched; if it moved a
        lot, drop the cache. Answers the store's position.
        """
        position = self.store.max_notification_id()
        with self._sync_lock:
            synced = self._synced_position
            if synced == position:
                return position
            if synced is not None and 0 < position - synced <= 5000:
                delta = self.store.notifications(
                    after=synced, stop=position, limit=position - synced
                )
                for notification in delta:
                    self.cache.discard(notification.stream_id)
            else:
                self.cache.clear()
            self._synced_position = position
            return position

    def _advance_sync(self, started_at: int, notification_ids: list[int]) -> None:
        """After our own append: the cache stays trusted only if nobody else wrote in between."""
        with self._sync_lock:
            contiguous = notification_ids == list(
                range(started_at + 1, started_at + 1 + len(notification_ids))
            )
            if self._synced_position == started_at and contiguous:
                self._synced_position = notification_ids[-1]
            else:
                self._synced_position = None

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Run commands as one unit of work: on leaving the block, append all or nothing."""
        batch = Batch(self)
        yield batch
        self.commit(batch)

    def commit(self, batch: Batch) -> None:
        if not batch.pending:
            return
        try:
            batch.notification_ids = self.store.append(batch.pending)
        except ConcurrencyConflict:
            for stream_id in batch.overlay:
                self.cache.discard(stream_id)
            with self._sync_lock:
                self._synced_position = None
            raise
        for snapshot in batch.overlay.values():
            self.cache.put(snapshot)
        if batch.synced_at is not None:
            self._advance_sync(batch.synced_at, batch.notification_ids)
        else:
            with self._sync_lock:
                self._synced_position = None
        if batch.pending_keys:
            self._record_idempotency(batch.pending_keys)
        if self.after_append is not None and batch.notification_ids:
            self.after_append(max(batch.notification_ids))

    def _record_idempotency(self, keys: list[_PendingKey]) -> None:
        created_at = format_timestamp(self.clock.now())
        with self.engine.begin() as connection:
            for pending in keys:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(idempotency_keys).values(
                                principal=pending.principal,
                                idempotency_key=pending.key,
                                request_sha256=pending.fingerprint,
                                result=pending.result.to_json().decode(),
                                created_at=created_at,
                            )
                        )
                except SQLIntegrityError:
                    continue  # a concurrent retry recorded the same key first

    def find_idempotent_result(
        self, principal: Principal, key: str, fingerprint: str
    ) -> CommandResult | None:
        if not key or len(key) > 256:
            raise InvalidInput(
                "an idempotency key has 1 to 256 characters", field="idempotency_key"
            )
        with self.engine.connect() as connection:
            row = connection.execute(
                select(idempotency_keys.c.request_sha256, idempotency_keys.c.result).where(
                    idempotency_keys.c.principal == principal.key_id,
                    idempotency_keys.c.idempotency_key == key,
                )
            ).first()
        if row is None:
            return None
        if row.request_sha256 != fingerprint:
            raise IdempotencyKeyReused(
                "this idempotency key was first used for a different request",
                field="idempotency_key",
            )
        return CommandResult.from_json(row.result, replayed=True)

    def result_from_stream(
        self, stream_id: str, first_event_id: str, pledge_id: str | None
    ) -> CommandResult:
        envelopes = self.store.read_stream(stream_id)
        start = next(n for n, e in enumerate(envelopes) if e.event_id == first_event_id)
        # Events of one command share its recorded_at and are consecutive.
        first = envelopes[start]
        events = [
            e
            for e in envelopes[start:]
            if e.recorded_at == first.recorded_at and e.recorded_by == first.recorded_by
        ]
        return CommandResult(
            stream_id=stream_id,
            events=tuple(
                AppendedEvent(e.event_id, e.stream_id, e.stream_version, e.type) for e in events
            ),
            pledge_id=pledge_id,
            replayed=True,
        )

    def pledge_state(self, pledge_id: str) -> PledgeState:
        return Batch(self).pledge(_pledge_id(pledge_id))[1]


def _derived_event_id(principal: Principal, key: str, index: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{principal.key_id}\x1f{key}\x1f{index}"))


def _fingerprint(stream_id: str, command: BaseModel) -> str:
    body = {
        "stream": stream_id,
        "command": type(command).__name__,
        "input": command.model_dump(mode="json"),
    }
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def _slug(value: str, field_name: str) -> str:
    try:
        return check_slug(value)
    except ValueError as error:
        raise InvalidInput(str(error), field=field_name) from error


def _pledge_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise NotFound(f"pledge {value!r} does not exist (pledge ids are UUIDs)") from error
