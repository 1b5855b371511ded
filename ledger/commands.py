"""The commands as a table, and the unit of work (``Batch``) that executes them.

Each entry of ``COMMANDS`` says which input model a command takes, which id it addresses beside
its body (``target``: a network, a declaration, a pledge or a key), which stream it writes and
how the domain decides it. ``Batch.execute`` is the one path every command takes: check that the
principal's key is active, parse, find an earlier result of an idempotent retry, load the
stream, check the expected version, let the domain decide, seal the new events into canonical
envelopes, and stage them.

A refused command leaves its batch untouched: ``execute`` stages nothing until every check has
passed, so a caller may run many commands into one batch, collect each refusal on its own (the
CSV import's row-numbered errors, the API's group commit) and commit the others together.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ValidationError

from domain import external_ids, keys, publication, reference, registry
from domain import pledge as pledges
from domain.errors import InvalidInput, NotFound
from domain.events import (
    NewEvent,
    Observation,
    ObservationCorrected,
    Payload,
    ProgressReported,
    invalid_input_from,
)
from domain.pledge import PledgeState, pledge_stream
from domain.principal import Principal
from domain.registry import (
    CityState,
    NetworkState,
    city_stream,
    declaration_stream,
    network_stream,
)
from domain.taxonomies import Taxonomies
from domain.values import Language, check_slug
from ledger.clock import Clock, IdFactory
from ledger.command_result import AppendedEvent, CommandResult
from ledger.envelope import Envelope, seal
from ledger.errors import ConcurrencyConflict, LedgerError
from ledger.idempotency import (
    IdempotencyRecords,
    IdempotentRequest,
    check_idempotency_key,
    derived_pledge_id,
    request_fingerprint,
)
from ledger.store import EventStore
from ledger.stream_cache import NO_EVENTS, StreamCache, StreamSnapshot

CommandName = Literal[
    "register_network",
    "register_city",
    "join_network",
    "leave_network",
    "sign_declaration",
    "submit_pledge",
    "amend_pledge",
    "validate_pledge",
    "report_progress",
    "match_pledge",
    "accept_match",
    "decline_match",
    "end_match",
    "withdraw_pledge",
    "close_pledge",
    "record_erratum",
    "translate_pledge",
    "add_external_id",
    "remove_external_id",
    "correct_city",
    "correct_network",
    "withdraw_signature",
    "correct_observation",
    "issue_key",
    "revoke_key",
    "register_priority_area",
    "retire_priority_area",
    "register_declaration",
    "register_call",
    "publish_report",
]
TargetField = Literal["network_id", "city_id", "declaration_id", "pledge_id", "key_id", "area_id"]

M = TypeVar("M", bound=BaseModel)


class BatchClosed(LedgerError):
    """A batch that was committed (or failed to commit) takes no more commands."""

    code = "batch_closed"


def parse_command(model: type[M], data: Mapping[str, Any] | M) -> M:
    """Validate raw input into a command model, turning pydantic's errors into one clear line."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input_from(error) from error


class FirstEventId:
    """The id of a command's first new event, made when first asked for: by the decision, if
    it names it (a match's id), or else when the event is sealed, as every other id."""

    __slots__ = ("_id", "_make")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make = make
        self._id: str | None = None

    def __call__(self) -> str:
        if self._id is None:
            self._id = self._make()
        return self._id


@dataclass(frozen=True, slots=True)
class Decision:
    """What a command's ``decide`` sees: who acts, the parsed input, its target and stream."""

    batch: Batch
    principal: Principal
    command: Any
    target: str
    snapshot: StreamSnapshot
    first_event_id: FirstEventId

    @property
    def event_id(self) -> str:
        """The id the command's first new event will carry (a match's id is its offer's)."""
        return self.first_event_id()

    @property
    def pledge(self) -> PledgeState:
        if self.snapshot.state is None:
            raise NotFound(f"pledge {self.target} does not exist", field="pledge_id")
        state: PledgeState = self.snapshot.state
        return state


@dataclass(frozen=True, slots=True)
class CommandHandler:
    """One row of the table: the input model, the addressed id, the stream and the decision."""

    model: type[BaseModel]
    target: TargetField | None
    stream: Callable[[Any, str], str]
    decide: Callable[[Decision], list[NewEvent]]
    # submit_pledge: the target is the new pledge's id, made here (derived from the key, if any).
    creates_pledge: bool = False


def _submit_pledge(d: Decision) -> list[NewEvent]:
    if d.snapshot.version:
        raise ConcurrencyConflict(
            f"pledge {d.target} already exists",
            stream_id=d.snapshot.stream_id,
            expected=0,
            actual=d.snapshot.version,
        )
    cmd: pledges.SubmitPledge = d.command
    return pledges.submit_pledge(
        cmd,
        d.target,
        d.batch.network(cmd.network_id),
        d.batch.cities(cmd.cities),
        d.principal,
        d.batch.taxonomies,
        d.batch.reference_tags(cmd.priority_areas, cmd.calls),
    )


def _amend_pledge(d: Decision) -> list[NewEvent]:
    cmd: pledges.AmendPledge = d.command
    state = d.pledge
    changes = cmd.changes
    added = tuple(c for c in (changes.cities or ()) if c not in state.content.cities)
    # Only the tags the amendment adds are looked up, and checked, as the log stands today.
    old = state.content
    areas = tuple(a for a in (changes.priority_areas or ()) if a not in old.priority_areas)
    calls = tuple(c for c in (changes.calls or ()) if c not in old.calls)
    return pledges.amend_pledge(
        state,
        cmd,
        d.batch.network(state.network_id) if added else None,
        d.batch.cities(added),
        d.principal,
        d.batch.taxonomies,
        d.batch.reference_tags(areas, calls),
    )


def _match_pledge(d: Decision) -> list[NewEvent]:
    cmd: pledges.MatchPledge = d.command
    supporting: PledgeState | None = None
    if cmd.supporting_pledge_id is not None:
        supporting_id = _pledge_id(cmd.supporting_pledge_id)
        supporting = d.batch.load(pledge_stream(supporting_id)).state
    return pledges.match_pledge(d.pledge, cmd, supporting, d.principal, d.event_id)


def _supporting_of(d: Decision, match_id: str) -> PledgeState | None:
    """The supporting pledge of a match on the host pledge's stream, as of this decision: its
    network answers for it, and an ended one can no longer be matched (ADR 0015)."""
    match = d.pledge.match(match_id)
    if match is None or match.supporting_pledge_id is None:
        return None
    state: PledgeState | None = d.batch.load(pledge_stream(match.supporting_pledge_id)).state
    return state


def _answer_match(d: Decision) -> list[NewEvent]:
    cmd: pledges.AcceptMatch | pledges.DeclineMatch | pledges.EndMatch = d.command
    supporting = _supporting_of(d, cmd.match_id)
    if isinstance(cmd, pledges.AcceptMatch):
        return pledges.accept_match(d.pledge, cmd, supporting, d.principal)
    if isinstance(cmd, pledges.DeclineMatch):
        return pledges.decline_match(d.pledge, cmd, supporting, d.principal)
    return pledges.end_match(d.pledge, cmd, supporting, d.principal)


def _correct_observation(d: Decision) -> list[NewEvent]:
    """Find the observation the erratum names, and its latest correction, in the stream."""
    cmd: pledges.CorrectObservation = d.command
    state = d.pledge
    observed: Observation | None = None
    current: ObservationCorrected | None = None
    if cmd.progress_event_id in d.snapshot.event_ids:
        for envelope in d.batch.stream_envelopes(d.snapshot.stream_id):
            # Decode only the report named and the corrections: most of a long stream is neither.
            named = envelope.event_id == cmd.progress_event_id
            if not named and envelope.type != "pledge.observation_corrected":
                continue
            payload = envelope.decode_payload()
            if named and isinstance(payload, ProgressReported):
                observed = next(
                    (
                        o
                        for o in payload.observations
                        if o.indicator_id == cmd.indicator_id and o.date == cmd.date
                    ),
                    None,
                )
            elif (
                isinstance(payload, ObservationCorrected)
                and payload.progress_event_id == cmd.progress_event_id
                and payload.indicator_id == cmd.indicator_id
                and payload.date == cmd.date
            ):
                current = payload
    return pledges.correct_observation(state, cmd, observed, current, d.principal)


def _sign_declaration(d: Decision) -> list[NewEvent]:
    cmd: registry.SignDeclaration = d.command
    acting = d.batch.network(d.principal.network_id) if d.principal.network_id else None
    return registry.sign_declaration(
        d.target,
        cmd,
        d.snapshot.state,
        d.batch.city(cmd.city_id),
        acting,
        d.principal,
        d.batch.today(),
    )


def _withdraw_signature(d: Decision) -> list[NewEvent]:
    acting = d.batch.network(d.principal.network_id) if d.principal.network_id else None
    return registry.withdraw_signature(
        d.target, d.command, d.snapshot.state, acting, d.principal, d.batch.today()
    )


def _translate_pledge(d: Decision) -> list[NewEvent]:
    cmd: pledges.TranslatePledge = d.command
    narrative: dict[Language, str] | None = None
    if cmd.field == "narrative" and cmd.progress_event_id is not None:
        report = d.batch.stream_payload(d.snapshot.stream_id, cmd.progress_event_id)
        if isinstance(report, ProgressReported):
            narrative = dict(report.narrative)
    return pledges.translate_pledge(d.pledge, cmd, narrative, d.principal)


def _add_external_id(d: Decision) -> list[NewEvent]:
    cmd: external_ids.AddExternalId = d.command
    claim = d.batch.load(external_ids.claim_stream(cmd.scheme, cmd.value)).state
    return external_ids.add_external_id(d.pledge, cmd, claim, d.principal)


def _remove_external_id(d: Decision) -> list[NewEvent]:
    cmd: external_ids.RemoveExternalId = d.command
    claim = d.batch.load(external_ids.claim_stream(cmd.scheme, cmd.value)).state
    return external_ids.remove_external_id(d.pledge, cmd, claim, d.principal)


def _issue_key(d: Decision) -> list[NewEvent]:
    cmd: keys.IssueKey = d.command
    network = d.batch.network(cmd.network_id) if cmd.network_id is not None else None
    return keys.issue_key(cmd, d.snapshot.state, network, d.principal)


def _register_declaration(d: Decision) -> list[NewEvent]:
    state: registry.DeclarationState | None = d.snapshot.state
    return reference.register_declaration(d.command, state, d.principal)


def _publish_report(d: Decision) -> list[NewEvent]:
    cmd: publication.PublishReport = d.command
    network = d.batch.network(cmd.network_id) if cmd.network_id is not None else None
    return publication.publish_report(cmd, d.snapshot.state, network, d.principal, d.batch.today())


def _of_pledge(_: Any, pledge_id: str) -> str:
    return pledge_stream(pledge_id)


COMMANDS: dict[CommandName, CommandHandler] = {
    "register_network": CommandHandler(
        registry.RegisterNetwork,
        None,
        lambda cmd, _: network_stream(cmd.id),
        lambda d: registry.register_network(d.command, d.snapshot.state, d.principal),
    ),
    "register_city": CommandHandler(
        registry.RegisterCity,
        None,
        lambda cmd, _: city_stream(cmd.id),
        lambda d: registry.register_city(d.command, d.snapshot.state, d.principal),
    ),
    "join_network": CommandHandler(
        registry.JoinNetwork,
        "network_id",
        lambda _, network_id: network_stream(network_id),
        lambda d: registry.join_network(
            d.target, d.command, d.snapshot.state, d.batch.city(d.command.city_id), d.principal
        ),
    ),
    "leave_network": CommandHandler(
        registry.LeaveNetwork,
        "network_id",
        lambda _, network_id: network_stream(network_id),
        lambda d: registry.leave_network(d.target, d.command, d.snapshot.state, d.principal),
    ),
    "sign_declaration": CommandHandler(
        registry.SignDeclaration,
        "declaration_id",
        lambda _, declaration_id: declaration_stream(declaration_id),
        _sign_declaration,
    ),
    "submit_pledge": CommandHandler(
        pledges.SubmitPledge, None, _of_pledge, _submit_pledge, creates_pledge=True
    ),
    "amend_pledge": CommandHandler(pledges.AmendPledge, "pledge_id", _of_pledge, _amend_pledge),
    "validate_pledge": CommandHandler(
        pledges.ValidatePledge,
        "pledge_id",
        _of_pledge,
        lambda d: pledges.vet_pledge(d.pledge, d.command, d.principal),
    ),
    "report_progress": CommandHandler(
        pledges.ReportProgress,
        "pledge_id",
        _of_pledge,
        lambda d: pledges.report_progress(d.pledge, d.command, d.principal, d.batch.today()),
    ),
    "match_pledge": CommandHandler(pledges.MatchPledge, "pledge_id", _of_pledge, _match_pledge),
    "accept_match": CommandHandler(pledges.AcceptMatch, "pledge_id", _of_pledge, _answer_match),
    "decline_match": CommandHandler(pledges.DeclineMatch, "pledge_id", _of_pledge, _answer_match),
    "end_match": CommandHandler(pledges.EndMatch, "pledge_id", _of_pledge, _answer_match),
    "withdraw_pledge": CommandHandler(
        pledges.WithdrawPledge,
        "pledge_id",
        _of_pledge,
        lambda d: pledges.withdraw_pledge(d.pledge, d.command, d.principal),
    ),
    "close_pledge": CommandHandler(
        pledges.ClosePledge,
        "pledge_id",
        _of_pledge,
        lambda d: pledges.close_pledge(d.pledge, d.command, d.principal, d.batch.today()),
    ),
    "record_erratum": CommandHandler(
        pledges.RecordErratum,
        "pledge_id",
        _of_pledge,
        lambda d: pledges.record_erratum(d.pledge, d.command, d.snapshot.event_ids, d.principal),
    ),
    "translate_pledge": CommandHandler(
        pledges.TranslatePledge, "pledge_id", _of_pledge, _translate_pledge
    ),
    "add_external_id": CommandHandler(
        external_ids.AddExternalId, "pledge_id", _of_pledge, _add_external_id
    ),
    "remove_external_id": CommandHandler(
        external_ids.RemoveExternalId, "pledge_id", _of_pledge, _remove_external_id
    ),
    "correct_city": CommandHandler(
        registry.CorrectCity,
        "city_id",
        lambda _, city_id: city_stream(city_id),
        lambda d: registry.correct_city(d.target, d.command, d.snapshot.state, d.principal),
    ),
    "correct_network": CommandHandler(
        registry.CorrectNetwork,
        "network_id",
        lambda _, network_id: network_stream(network_id),
        lambda d: registry.correct_network(d.target, d.command, d.snapshot.state, d.principal),
    ),
    "withdraw_signature": CommandHandler(
        registry.WithdrawSignature,
        "declaration_id",
        lambda _, declaration_id: declaration_stream(declaration_id),
        _withdraw_signature,
    ),
    "correct_observation": CommandHandler(
        pledges.CorrectObservation, "pledge_id", _of_pledge, _correct_observation
    ),
    "issue_key": CommandHandler(
        keys.IssueKey, None, lambda cmd, _: keys.key_stream(cmd.key_id), _issue_key
    ),
    "revoke_key": CommandHandler(
        keys.RevokeKey,
        "key_id",
        lambda _, key_id: keys.key_stream(key_id),
        lambda d: keys.revoke_key(d.target, d.command, d.snapshot.state, d.principal),
    ),
    "register_priority_area": CommandHandler(
        reference.RegisterPriorityArea,
        None,
        lambda cmd, _: reference.priority_area_stream(cmd.id),
        lambda d: reference.register_priority_area(d.command, d.snapshot.state, d.principal),
    ),
    "retire_priority_area": CommandHandler(
        reference.RetirePriorityArea,
        "area_id",
        lambda _, area_id: reference.priority_area_stream(area_id),
        lambda d: reference.retire_priority_area(
            d.target, d.command, d.snapshot.state, d.principal
        ),
    ),
    "register_declaration": CommandHandler(
        reference.RegisterDeclaration,
        None,
        lambda cmd, _: declaration_stream(cmd.id),
        _register_declaration,
    ),
    "register_call": CommandHandler(
        reference.RegisterCall,
        None,
        lambda cmd, _: reference.call_stream(cmd.id),
        lambda d: reference.register_call(d.command, d.snapshot.state, d.principal),
    ),
    "publish_report": CommandHandler(
        publication.PublishReport,
        None,
        lambda cmd, _: publication.publication_stream(cmd.output_sha256),
        _publish_report,
    ),
}


def command_handler(name: str) -> CommandHandler:
    """The table's row for ``name``; an unknown name is bad input, named as such."""
    handler = COMMANDS.get(cast(CommandName, name))
    if handler is None:
        raise InvalidInput(f"unknown command {name!r}", field="command")
    return handler


@dataclass(frozen=True, slots=True)
class StagedCommand:
    """A command that passed every check: its result and, if keyed, its request."""

    result: CommandResult
    request: IdempotentRequest | None


class Batch:
    """A unit of work: commands decided against a private overlay, appended all or none.

    Create it with ``Ledger.batch()``; the ledger commits it. The batch's state is private:
    callers see what they executed through ``results`` and, once committed, ``written``.
    """

    def __init__(
        self,
        *,
        store: EventStore,
        cache: StreamCache,
        records: IdempotencyRecords,
        clock: Clock,
        ids: IdFactory,
        taxonomies: Taxonomies,
    ) -> None:
        self._store = store
        self._cache = cache
        self._records = records
        self._clock = clock
        self._ids = ids
        self.taxonomies = taxonomies
        self._overlay: dict[str, StreamSnapshot] = {}
        self._fresh: dict[str, StreamSnapshot] = {}
        self._envelopes: list[Envelope] = []
        self._staged: list[StagedCommand] = []
        # The store's position when this batch first read it, after which every cached stream is
        # known complete (see StreamCache.sync); None until the batch loads its first stream.
        self._synced_at: int | None = None
        self._closed = False

    # --- what callers see -------------------------------------------------------------------------

    @property
    def results(self) -> tuple[CommandResult, ...]:
        """The result of every command executed so far, in order (refused ones have none)."""
        return tuple(staged.result for staged in self._staged)

    @property
    def event_count(self) -> int:
        """How many new events the batch will append."""
        return len(self._envelopes)

    # --- what the ledger reads to commit it -------------------------------------------------------

    @property
    def envelopes(self) -> tuple[Envelope, ...]:
        return tuple(self._envelopes)

    @property
    def staged(self) -> tuple[StagedCommand, ...]:
        return tuple(self._staged)

    @property
    def snapshots(self) -> tuple[StreamSnapshot, ...]:
        """The streams as they will be once the batch is appended."""
        return tuple(self._overlay.values())

    @property
    def synced_at(self) -> int | None:
        return self._synced_at

    def close(self) -> None:
        """Refuse further commands: the ledger is committing (or has committed) this batch."""
        self._closed = True

    # --- loading ----------------------------------------------------------------------------------

    def load(self, stream_id: str) -> StreamSnapshot:
        """The stream as this batch sees it: its own staged events on top of the store's."""
        if stream_id in self._overlay:
            return self._overlay[stream_id]
        if stream_id in self._fresh:
            return self._fresh[stream_id]
        if self._synced_at is None:
            self._synced_at = self._cache.sync()
        snapshot = self._cache.load(stream_id)
        self._fresh[stream_id] = snapshot
        return snapshot

    def _minted(self, stream_id: str) -> StreamSnapshot:
        """The empty stream of a pledge id this batch just minted (a random UUID), without
        asking the store: no stream has it. Were one to, the append would refuse the batch
        (stream and version are unique), so a collision is never silently accepted; bulk
        loads save a read per new pledge."""
        if self._synced_at is None:
            self._synced_at = self._cache.sync()
        snapshot = StreamSnapshot(stream_id, 0, None, NO_EVENTS)
        self._fresh[stream_id] = snapshot
        return snapshot

    def network(self, network_id: str) -> NetworkState | None:
        state: NetworkState | None = self.load(network_stream(network_id)).state
        return state

    def city(self, city_id: str) -> CityState | None:
        state: CityState | None = self.load(city_stream(city_id)).state
        return state

    def cities(self, city_ids: tuple[str, ...]) -> dict[str, CityState | None]:
        return {city_id: self.city(city_id) for city_id in city_ids}

    def pledge(self, pledge_id: str) -> PledgeState:
        state: PledgeState | None = self.load(pledge_stream(_pledge_id(pledge_id))).state
        if state is None:
            raise NotFound(f"pledge {pledge_id} does not exist", field="pledge_id")
        return state

    def stream_payload(self, stream_id: str, event_id: str) -> Payload | None:
        """The payload of one event of a stream, staged in this batch or stored (None: the
        stream has no such event)."""
        if event_id not in self.load(stream_id).event_ids:
            return None
        for envelope in self._envelopes:
            if envelope.event_id == event_id and envelope.stream_id == stream_id:
                return envelope.decode_payload()
        for envelope in self._store.read_stream(stream_id):
            if envelope.event_id == event_id:
                return envelope.decode_payload()
        return None

    def require_active(self, principal: Principal) -> None:
        """Refuse (``InactiveKey``) a principal that is not the local operator and not an issued,
        unrevoked key with the same role and network, as this batch sees the key's stream.

        The API passes only principals it authenticated, but the command line, the demo and the
        import reach the ledger directly: the ledger checks every principal itself.
        """
        if principal.key_id == keys.OPERATOR_KEY_ID:
            keys.check_active(principal, None)
            return
        state: keys.KeyState | None = self.load(keys.key_stream(principal.key_id)).state
        keys.check_active(principal, state)

    def today(self) -> date:
        return self._clock.now().date()

    def reference_tags(
        self, priority_areas: tuple[str, ...], calls: tuple[str, ...]
    ) -> reference.ReferenceTags:
        """The log's priority areas and calls a pledge command names, as this batch sees them."""
        return reference.ReferenceTags(
            today=self.today(),
            priority_areas={
                a: self._state_or_none(reference.priority_area_stream, a) for a in priority_areas
            },
            calls={c: self._state_or_none(reference.call_stream, c) for c in calls},
        )

    def _state_or_none(self, stream: Callable[[str], str], item_id: str) -> Any:
        # A code that is not a slug cannot name a stream: it names nothing registered.
        try:
            check_slug(item_id)
        except ValueError:
            return None
        return self.load(stream(item_id)).state

    def stream_envelopes(self, stream_id: str) -> list[Envelope]:
        """Every event of a stream as this batch sees it: the store's, then its own staged ones.

        Reads the whole stream: for the rare decision that needs an earlier event's payload
        (an erratum naming an observation), not for the hot path.
        """
        stored = self._store.read_stream(stream_id)
        return stored + [e for e in self._envelopes if e.stream_id == stream_id]

    # --- the one path of every command ------------------------------------------------------------

    def execute(
        self,
        name: CommandName,
        principal: Principal,
        body: Mapping[str, Any] | BaseModel,
        *,
        target: str | None = None,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Decide one command and stage its events; on refusal raise and stage nothing."""
        if self._closed:
            raise BatchClosed("this batch was committed; start a new one", field="batch")
        handler = command_handler(name)
        self.require_active(principal)
        command = parse_command(handler.model, body)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        target_id = self._target(name, handler, principal, target, idempotency_key)
        stream_id = handler.stream(command, target_id)
        pledge_id = target_id if handler.target == "pledge_id" or handler.creates_pledge else None
        request = None
        if idempotency_key is not None:
            request = IdempotentRequest(
                principal.key_id,
                idempotency_key,
                request_fingerprint(stream_id, command),
                stream_id,
                pledge_id,
            )
            earlier = self._earlier_result(request)
            if earlier is not None:
                self._staged.append(StagedCommand(earlier, None))
                return earlier
        if handler.creates_pledge and idempotency_key is None:
            snapshot = self._minted(stream_id)
        else:
            snapshot = self.load(stream_id)
        if expected_version is not None and expected_version != snapshot.version:
            raise ConcurrencyConflict(
                f"{stream_id} is at version {snapshot.version}, not {expected_version}",
                stream_id=stream_id,
                expected=expected_version,
                actual=snapshot.version,
            )
        first_id = FirstEventId((lambda: request.event_id(0)) if request is not None else self._ids)
        decision = Decision(self, principal, command, target_id, snapshot, first_id)
        new_events = handler.decide(decision)
        now = self._clock.now()
        # Most commands write their own stream only; a guard (an external id's claim) goes to
        # its own stream in the same append, numbered after that stream's events.
        streams: dict[str, tuple[StreamSnapshot, list[Envelope], list[Payload]]] = {
            stream_id: (snapshot, [], [])
        }
        envelopes: list[Envelope] = []
        for n, new_event in enumerate(new_events):
            to = new_event.stream_id or stream_id
            if to not in streams:
                streams[to] = (self.load(to), [], [])
            base, written, payloads = streams[to]
            envelope = seal(
                new_event,
                event_id=first_id()
                if n == 0
                else request.event_id(n)
                if request is not None
                else self._ids(),
                stream_id=to,
                stream_version=base.version + len(written) + 1,
                recorded_at=now,
                recorded_by=principal.key_id,
            )
            written.append(envelope)
            payloads.append(new_event.payload)
            envelopes.append(envelope)
        result = CommandResult(
            stream_id=stream_id,
            events=tuple(AppendedEvent.of(e) for e in envelopes),
            pledge_id=pledge_id,
        )
        # Every check has passed: only now does the batch change.
        for to, (base, written, payloads) in streams.items():
            self._overlay[to] = base.fold(written, payloads)
        self._envelopes.extend(envelopes)
        self._staged.append(StagedCommand(result, request))
        return result

    def _target(
        self,
        name: str,
        handler: CommandHandler,
        principal: Principal,
        target: str | None,
        idempotency_key: str | None,
    ) -> str:
        if handler.target is None:
            if target is not None:
                raise InvalidInput(f"{name} addresses no existing record", field="target")
            if not handler.creates_pledge:
                return ""
            if idempotency_key is not None:
                return derived_pledge_id(principal.key_id, idempotency_key)
            return self._ids()
        if target is None:
            raise InvalidInput(f"{name} needs the {handler.target}", field=handler.target)
        if handler.target == "pledge_id":
            return _pledge_id(target)
        try:
            return check_slug(target)
        except ValueError as error:
            raise InvalidInput(str(error), field=handler.target) from error

    def _earlier_result(self, request: IdempotentRequest) -> CommandResult | None:
        """The first result of a retried request: staged in this batch, recorded, or stored."""
        for staged in self._staged:
            if staged.request is not None and staged.request.same_key(request):
                staged.request.check_same_request(request)
                return CommandResult(
                    staged.result.stream_id,
                    staged.result.events,
                    staged.result.pledge_id,
                    replayed=True,
                )
        recorded = self._records.find(request)
        if recorded is not None:
            return recorded
        snapshot = self.load(request.stream_id)
        if request.event_id(0) in snapshot.event_ids:
            # Stored before, but the process died before the idempotency record.
            return request.stored_result(self._store)
        return None


def _pledge_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise NotFound(f"pledge {value!r} does not exist (pledge ids are UUIDs)") from error
