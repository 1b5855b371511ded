"""The pledge lifecycle: its state, how events fold into it, and the rules of every command.

Lifecycle status and implementation stage are kept apart: a pledge can be ``validated`` (its
status, set by validators) and ``on_hold`` (its stage, reported by its network). Reporting
freshness (when it last reported) is a third, separate fact, computed by the projections.

States::

    submitted ──> awaiting_validation ──validated──> validated
                        │    ^                          │ material amendment
                        │    └──────────────────────────┘
                        └──changes_requested──> changes_requested ──amendment──> awaiting_validation
    any open state ──withdrawal──> withdrawn      any open state ──closure──> closed
    withdrawn / closed: nothing but an erratum follows.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, cast

from pydantic import Field, model_validator

from domain.authority import require_authority
from domain.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from domain.events import (
    Criterion,
    Decision,
    ErratumRecorded,
    Evidence,
    ExternalIdAdded,
    ExternalIdRemoved,
    Indicator,
    IndicatorPoint,
    MatchAccepted,
    MatchDeclined,
    MatchEnded,
    MatchKind,
    MatchOffered,
    MatchSide,
    Model,
    NewEvent,
    Observation,
    ObservationCorrected,
    Outcome,
    Payload,
    Period,
    PledgeAmended,
    PledgeChanges,
    PledgeChangesRequested,
    PledgeClosed,
    PledgeContent,
    PledgeFields,
    PledgeMatched,
    PledgeSubmitted,
    PledgeTranslated,
    PledgeValidated,
    PledgeWithdrawn,
    ProgressReported,
    Stage,
    TranslatedField,
    refusing_invalid_input,
)
from domain.principal import Principal
from domain.reference import ReferenceTags
from domain.registry import CityState, NetworkState
from domain.taxonomies import Taxonomies
from domain.values import (
    CurrencyCode,
    DecimalString,
    IsoDate,
    Language,
    OptionalLocalizedText,
    Reason,
    ShortText,
    Slug,
    Text,
    TranslationText,
    refuse_personal_data,
)

Status = Literal["awaiting_validation", "changes_requested", "validated", "withdrawn", "closed"]
STATUSES: tuple[Status, ...] = (
    "awaiting_validation",
    "changes_requested",
    "validated",
    "withdrawn",
    "closed",
)
ENDED: frozenset[str] = frozenset({"withdrawn", "closed"})

MatchStatus = Literal["offered", "accepted", "declined", "ended"]
LIVE_MATCH: frozenset[str] = frozenset({"offered", "accepted"})
"""A match in these states still binds; a withdrawal or closure of the host pledge ends them."""

# Changing any of these changes what was promised; after validation, validators must look again.
MATERIAL_FIELDS: frozenset[str] = frozenset(
    {
        "cities",
        "title",
        "gcm_objectives",
        "gcr_areas",
        "sdg_targets",
        "starts_on",
        "ends_on",
        "indicators",
    }
)


def pledge_stream(pledge_id: str) -> str:
    return f"pledge:{pledge_id}"


@dataclass(frozen=True, slots=True)
class MatchState:
    """A two-way match as its host pledge's stream has it (ADR 0015)."""

    match_id: str
    kind: MatchKind
    offered_by: MatchSide
    supporting_pledge_id: str | None
    funder: str | None
    status: MatchStatus

    @property
    def answering_side(self) -> MatchSide:
        return "supporter" if self.offered_by == "host" else "host"


def _with_status(
    matches: tuple[MatchState, ...], match_id: str, status: MatchStatus
) -> tuple[MatchState, ...]:
    return tuple(
        MatchState(m.match_id, m.kind, m.offered_by, m.supporting_pledge_id, m.funder, status)
        if m.match_id == match_id
        else m
        for m in matches
    )


def _ended_matches(matches: tuple[MatchState, ...]) -> tuple[MatchState, ...]:
    """A pledge that ends ends its live matches with it: nothing binds an ended pledge."""
    return tuple(
        MatchState(m.match_id, m.kind, m.offered_by, m.supporting_pledge_id, m.funder, "ended")
        if m.status in LIVE_MATCH
        else m
        for m in matches
    )


@dataclass(frozen=True, slots=True)
class PledgeState:
    pledge_id: str
    network_id: str
    content: PledgeContent
    status: Status
    stage: Stage | None = None
    outcome: Outcome | None = None
    last_period_end: date | None = None
    ever_validated: bool = False
    matches: tuple[MatchState, ...] = ()

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def match(self, match_id: str) -> MatchState | None:
        for match in self.matches:
            if match.match_id == match_id:
                return match
        return None


def evolve_pledge(state: PledgeState | None, payload: Payload) -> PledgeState:
    """Fold one event into a pledge's state (the same function serves replay and decisions).

    It runs for every pledge event of every replay and rebuild, so it dispatches on the exact
    payload type and builds each new state with one constructor call (``isinstance`` on pydantic
    models and ``dataclasses.replace`` measured slower there: see benchmarks/RESULTS.md).
    """
    kind = type(payload)
    if kind is PledgeSubmitted:
        submitted = cast(PledgeSubmitted, payload)
        return PledgeState(
            submitted.pledge_id, submitted.network_id, submitted.content, "awaiting_validation"
        )
    if state is None:
        raise InvalidInput("pledge event before the pledge was submitted", field="type")
    s = state
    if kind is ProgressReported:
        report = cast(ProgressReported, payload)
        last = s.last_period_end
        end = report.period.end
        if last is not None and end < last:
            return s  # a late report on an older period does not set the current stage
        return PledgeState(
            s.pledge_id, s.network_id, s.content, s.status, report.stage, s.outcome, end,
            s.ever_validated, s.matches,
        )  # fmt: skip
    if kind is PledgeValidated:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "validated", s.stage, s.outcome,
            s.last_period_end, True, s.matches,
        )  # fmt: skip
    if kind is PledgeAmended:
        amended = cast(PledgeAmended, payload)
        content = amended_content(s.content, amended.changes)
        status = s.status
        if status == "changes_requested" or (amended.material and status == "validated"):
            status = "awaiting_validation"
        return PledgeState(
            s.pledge_id, s.network_id, content, status, s.stage, s.outcome, s.last_period_end,
            s.ever_validated, s.matches,
        )  # fmt: skip
    if kind is PledgeChangesRequested:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "changes_requested", s.stage, s.outcome,
            s.last_period_end, s.ever_validated, s.matches,
        )  # fmt: skip
    if kind is PledgeWithdrawn:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "withdrawn", s.stage, s.outcome,
            s.last_period_end, s.ever_validated, _ended_matches(s.matches),
        )  # fmt: skip
    if kind is PledgeClosed:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "closed", s.stage,
            cast(PledgeClosed, payload).outcome, s.last_period_end, s.ever_validated,
            _ended_matches(s.matches),
        )  # fmt: skip
    if (
        kind is PledgeMatched
        or kind is ErratumRecorded
        or kind is PledgeTranslated
        or kind is ExternalIdAdded
        or kind is ExternalIdRemoved
        or kind is ObservationCorrected
    ):
        return s
    if kind is MatchOffered:
        offer = cast(MatchOffered, payload)
        match = MatchState(
            offer.match_id, offer.kind, offer.offered_by, offer.supporting_pledge_id, offer.funder,
            "offered",
        )  # fmt: skip
        return PledgeState(
            s.pledge_id, s.network_id, s.content, s.status, s.stage, s.outcome,
            s.last_period_end, s.ever_validated, (*s.matches, match),
        )  # fmt: skip
    if kind is MatchAccepted or kind is MatchDeclined or kind is MatchEnded:
        answered = cast(MatchAccepted | MatchDeclined | MatchEnded, payload)
        answer: MatchStatus = "ended"
        if kind is MatchAccepted:
            answer = "accepted"
        elif kind is MatchDeclined:
            answer = "declined"
        return PledgeState(
            s.pledge_id, s.network_id, s.content, s.status, s.stage, s.outcome,
            s.last_period_end, s.ever_validated, _with_status(s.matches, answered.match_id, answer),
        )  # fmt: skip
    raise InvalidInput(f"{kind.__name__} does not belong to a pledge", field="type")


def apply_changes(content: PledgeContent, changes: PledgeChanges) -> PledgeContent:
    """The content an amendment would give, validated as new content is (for decisions)."""
    update = {name: getattr(changes, name) for name in changes.changed_fields()}
    return PledgeContent.model_validate({**content.model_dump(), **update})


def amended_content(content: PledgeContent, changes: PledgeChanges) -> PledgeContent:
    """The content a recorded amendment gave: ``apply_changes`` without validating again.

    Replays fold amendments that a decision already validated (``amend_pledge`` runs
    ``apply_changes`` and ``check_content``); re-validating the whole content on every replay
    was most of an amendment's replay cost (benchmarks/RESULTS.md). The changed values are
    already validated field values.
    """
    update = {name: getattr(changes, name) for name in changes.changed_fields()}
    return content.model_copy(update=update)


# --- commands -------------------------------------------------------------------------------------


class Command(Model):
    """A pledge command: its free text may hold no personal data, since it will be public forever.

    The check runs when the command is built, so a refused command never reaches a decision.
    Events are not checked: the log keeps what it recorded and replays it as recorded.
    """

    @model_validator(mode="after")
    def _refuse_personal_data(self) -> Command:
        refuse_personal_data(self)
        return self


class SubmitPledge(Command, PledgeFields):
    """The pledge's fields (``PledgeFields``) and the network that submits it."""

    network_id: Slug

    def content(self) -> PledgeContent:
        # The fields are PledgeContent's own (both are PledgeFields), validated when this command
        # was: they are taken as they are rather than dumped and validated a second time.
        return PledgeContent.model_construct(
            **{name: getattr(self, name) for name in PledgeContent.model_fields}
        )


class AmendPledge(Command):
    changes: PledgeChanges
    reason: Reason


class ValidatePledge(Command):
    decision: Decision
    criteria: tuple[Criterion, ...] = ()
    note: Text = ""


class ReportProgress(Command):
    period: Period
    stage: Stage
    observations: tuple[Observation, ...] = ()
    narrative: OptionalLocalizedText = Field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()
    support_needed: Text = ""


class MatchPledge(Command):
    """An offer of a match, addressed to the host pledge (the one supported)."""

    kind: Literal["pledge", "funder"]
    supporting_pledge_id: str | None = None
    funder: ShortText | None = None
    amount: DecimalString | None = None
    currency: CurrencyCode | None = None
    note: Text = ""


class AcceptMatch(Command):
    match_id: str
    note: Text = ""


class DeclineMatch(Command):
    match_id: str
    reason: Reason


class EndMatch(Command):
    match_id: str
    reason: Reason


class WithdrawPledge(Command):
    reason: Reason


class ClosePledge(Command):
    outcome: Outcome
    note: Text = ""


class RecordErratum(Command):
    corrects_event_id: str
    note: Reason


class TranslatePledge(Command):
    """A text of the pledge in another language than its original: the pledge's ``title`` or
    ``description``, or the ``narrative`` of the progress report ``progress_event_id``."""

    field: TranslatedField
    language: Language
    text: TranslationText
    progress_event_id: str | None = None


class CorrectObservation(Command):
    """An erratum that supersedes one observation: the report, the indicator and the date name
    it; ``value`` (or, for a qualitative indicator, ``comment``) is the corrected reading."""

    progress_event_id: str
    indicator_id: Slug
    date: IsoDate
    value: DecimalString | None = None
    comment: Text = ""
    reason: Reason


# --- rules ----------------------------------------------------------------------------------------


def _unique(values: Iterable[object], field: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise InvalidInput(f"{value!r} is listed twice", field=field)
        seen.add(value)


def _check_point_value(
    indicator: Indicator, point: IndicatorPoint | Observation, where: str
) -> None:
    _check_value(indicator, point.value, f"{where}.value")


def _check_value(indicator: Indicator, value: str | None, field: str) -> None:
    if indicator.measure == "qualitative":
        if value is not None:
            raise InvalidInput(
                f"indicator {indicator.id} is qualitative: give a comment, not a value",
                field=field,
            )
        return
    if value is None:
        raise InvalidInput(
            f"indicator {indicator.id} is measured in {indicator.measure}s: a value is required",
            field=field,
        )
    if indicator.measure == "percentage" and not Decimal(0) <= Decimal(value) <= 100:
        raise InvalidInput(
            f"indicator {indicator.id} is a percentage: {value} is not within 0..100",
            field=field,
        )


def check_indicators(indicators: tuple[Indicator, ...]) -> None:
    _unique((i.id for i in indicators), "indicators.id")
    for n, indicator in enumerate(indicators):
        where = f"indicators.{n}"
        if indicator.baseline is not None:
            _check_point_value(indicator, indicator.baseline, f"{where}.baseline")
        previous: date | None = None
        for t, target in enumerate(indicator.targets):
            _check_point_value(indicator, target, f"{where}.targets.{t}")
            if indicator.baseline is not None and target.date < indicator.baseline.date:
                raise InvalidInput(
                    "a target cannot be dated before the baseline",
                    field=f"{where}.targets.{t}.date",
                )
            if previous is not None and target.date <= previous:
                raise InvalidInput(
                    "targets must be in strictly increasing date order",
                    field=f"{where}.targets.{t}.date",
                )
            previous = target.date


def check_content(content: PledgeContent) -> None:
    """The rules every version of a pledge's content obeys, whoever wrote it (tags aside)."""
    _unique(content.cities, "cities")
    for name in TAG_FIELDS:
        _unique(getattr(content, name), name)
    if not content.gcm_objectives and not content.gcr_areas:
        raise InvalidInput(
            "a pledge implements at least one GCM objective or GCR area", field="gcm_objectives"
        )
    if content.ends_on < content.starts_on:
        raise InvalidInput("ends_on is before starts_on", field="ends_on")
    check_indicators(content.indicators)


# The fields whose values are codes of reference data; only the codes a command adds are checked.
TAG_FIELDS: tuple[str, ...] = (
    "gcm_objectives",
    "gcr_areas",
    "sdg_targets",
    "priority_areas",
    "gcm_principles",
    "nua_paragraphs",
    "calls",
)


def added_tags(before: PledgeContent | None, after: PledgeContent) -> dict[str, tuple[Any, ...]]:
    """The codes ``after`` names that ``before`` did not, by field (all of them for a new pledge).

    A tag a pledge already carries was checked when it was added, against the reference data
    of that day; it is never checked again, so a later change of the lists never makes an old
    pledge unamendable (ADR 0014).
    """
    added: dict[str, tuple[Any, ...]] = {}
    for name in TAG_FIELDS:
        old = set(getattr(before, name)) if before is not None else set()
        new = tuple(code for code in getattr(after, name) if code not in old)
        if new:
            added[name] = new
    return added


def check_tags(
    added: Mapping[str, tuple[Any, ...]], taxonomies: Taxonomies, reference: ReferenceTags
) -> None:
    """Check the added codes: shipped taxonomies, and the log's reference data as of today."""
    checks: dict[str, Callable[[Any], None]] = {
        "gcm_objectives": taxonomies.check_gcm_objective,
        "gcr_areas": taxonomies.check_gcr_area,
        "sdg_targets": taxonomies.check_sdg_target,
        "gcm_principles": taxonomies.check_gcm_principle,
        "nua_paragraphs": taxonomies.check_nua_paragraph,
        "priority_areas": reference.check_priority_area,
        "calls": reference.check_call,
    }
    for name in TAG_FIELDS:
        for code in added.get(name, ()):
            checks[name](code)


def _check_cities(
    cities: Iterable[str], network: NetworkState, registered: Mapping[str, CityState | None]
) -> None:
    for city_id in cities:
        if registered.get(city_id) is None:
            raise NotFound(f"city {city_id} is not registered", field="cities")
        if city_id not in network.members:
            raise NotPermitted(
                f"city {city_id} is not a member of network {network.network_id}", field="cities"
            )


def _require_owner(state: PledgeState, principal: Principal, event_type: str, action: str) -> None:
    require_authority(
        principal,
        event_type,
        action=f"{action} (only network {state.network_id}, which submitted pledge "
        f"{state.pledge_id}, may)",
        networks=(state.network_id,),
    )


def _require_open(state: PledgeState, action: str) -> None:
    if state.ended:
        raise InvalidTransition(
            f"pledge {state.pledge_id} is {state.status}: only an erratum may follow, not {action}"
        )


def _on_behalf_of(state: PledgeState) -> tuple[str, ...]:
    return tuple(state.content.cities)


@refusing_invalid_input
def submit_pledge(
    command: SubmitPledge,
    pledge_id: str,
    network: NetworkState | None,
    cities: Mapping[str, CityState | None],
    principal: Principal,
    taxonomies: Taxonomies,
    reference: ReferenceTags,
) -> list[NewEvent]:
    require_authority(
        principal,
        "pledge.submitted",
        action=f"submit pledges for network {command.network_id}",
        networks=(command.network_id,),
    )
    if network is None:
        raise NotFound(f"network {command.network_id} is not registered", field="network_id")
    content = command.content()
    check_content(content)
    check_tags(added_tags(None, content), taxonomies, reference)
    _check_cities(content.cities, network, cities)
    payload = PledgeSubmitted(pledge_id=pledge_id, network_id=command.network_id, content=content)
    return [NewEvent(payload, on_behalf_of=content.cities)]


@refusing_invalid_input
def amend_pledge(
    state: PledgeState,
    command: AmendPledge,
    network: NetworkState | None,
    cities: Mapping[str, CityState | None],
    principal: Principal,
    taxonomies: Taxonomies,
    reference: ReferenceTags,
) -> list[NewEvent]:
    _require_owner(state, principal, "pledge.amended", "amend it")
    _require_open(state, "an amendment")
    changed = command.changes.changed_fields()
    if not changed:
        raise InvalidInput("an amendment changes at least one field", field="changes")
    for name in changed:
        if getattr(command.changes, name) == getattr(state.content, name):
            raise InvalidInput(f"{name} already has this value", field=f"changes.{name}")
    content = apply_changes(state.content, command.changes)
    check_content(content)
    check_tags(added_tags(state.content, content), taxonomies, reference)
    added = [c for c in content.cities if c not in state.content.cities]
    if added:
        if network is None:
            raise NotFound(f"network {state.network_id} is not registered", field="network_id")
        _check_cities(added, network, cities)
    for name in ("title", "description"):
        before, after = getattr(state.content, name), getattr(command.changes, name)
        if name in changed and _only_adds_languages(before, after):
            added_languages = ", ".join(lang for lang in after if lang not in before)
            raise InvalidInput(
                f"this changes no original text of the {name}, it only adds {added_languages}: "
                f"record a translation (POST /api/v1/pledges/{state.pledge_id}/translations), "
                "which does not send the pledge back to validation",
                field=f"changes.{name}",
            )
    material = any(name in MATERIAL_FIELDS for name in changed)
    payload = PledgeAmended(changes=command.changes, reason=command.reason, material=material)
    return [NewEvent(payload, on_behalf_of=content.cities)]


@refusing_invalid_input
def vet_pledge(state: PledgeState, command: ValidatePledge, principal: Principal) -> list[NewEvent]:
    vetted = "pledge.validated" if command.decision == "validated" else "pledge.changes_requested"
    require_authority(principal, vetted, action="validate pledges")
    _require_open(state, "a validation")
    if state.status != "awaiting_validation":
        raise InvalidTransition(
            f"pledge {state.pledge_id} is {state.status}; only a pledge awaiting validation "
            "can be vetted"
        )
    _unique(command.criteria, "criteria")
    payload: Payload
    if command.decision == "validated":
        if not command.criteria:
            raise InvalidInput("name the criteria the pledge meets", field="criteria")
        payload = PledgeValidated(criteria=command.criteria, note=command.note)
    else:
        if not command.note:
            raise InvalidInput("say which changes are requested", field="note")
        payload = PledgeChangesRequested(criteria=command.criteria, note=command.note)
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


@refusing_invalid_input
def report_progress(
    state: PledgeState, command: ReportProgress, principal: Principal, today: date
) -> list[NewEvent]:
    _require_owner(state, principal, "pledge.progress_reported", "report its progress")
    _require_open(state, "a progress report")
    period = command.period
    if period.end < period.start:
        raise InvalidInput("the period ends before it starts", field="period.end")
    if period.end > today:
        raise InvalidInput(
            "progress cannot be reported for a period not yet over", field="period.end"
        )
    indicators = {i.id: i for i in state.content.indicators}
    seen: set[tuple[str, date]] = set()
    for n, observation in enumerate(command.observations):
        where = f"observations.{n}"
        indicator = indicators.get(observation.indicator_id)
        if indicator is None:
            raise NotFound(
                f"pledge has no indicator {observation.indicator_id!r}",
                field=f"{where}.indicator_id",
            )
        _check_point_value(indicator, observation, where)
        if not period.start <= observation.date <= period.end:
            raise InvalidInput("an observation is dated within its period", field=f"{where}.date")
        key = (observation.indicator_id, observation.date)
        if key in seen:
            raise InvalidInput(
                f"two observations of {observation.indicator_id} on {observation.date.isoformat()}",
                field=where,
            )
        seen.add(key)
    _unique((e.url for e in command.evidence), "evidence.url")
    payload = ProgressReported(
        period=period,
        stage=command.stage,
        observations=command.observations,
        narrative=command.narrative,
        evidence=command.evidence,
        support_needed=command.support_needed,
    )
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state), occurred_on=period.end)]


def _offering_side(
    state: PledgeState, command: MatchPledge, supporting: PledgeState | None, principal: Principal
) -> MatchSide:
    """The side the principal offers from: a network for its own pledge, a validator for a
    funder (which has no key of its own)."""
    if principal.role == "validator":
        if command.kind != "funder":
            raise NotPermitted(
                f"validator key {principal.key_id} may offer only a funder's match (it acts for "
                "the funder); a pledge match is offered by one of the two pledges' networks"
            )
        return "supporter"
    if principal.network_id == state.network_id:
        return "host"
    return "supporter"  # require_authority let it through: it owns the supporting pledge


@refusing_invalid_input
def match_pledge(
    state: PledgeState,
    command: MatchPledge,
    supporting: PledgeState | None,
    principal: Principal,
    match_id: str,
) -> list[NewEvent]:
    """Offer a match to the host pledge ``state``: a supporting pledge (``supporting`` is its
    state, if it exists) or a funder with an optional amount. The other side answers."""
    _require_open(state, "a match")
    if command.kind == "pledge":
        if command.supporting_pledge_id is None or command.funder is not None:
            raise InvalidInput(
                "a pledge match names supporting_pledge_id and no funder",
                field="supporting_pledge_id",
            )
        if command.amount is not None or command.currency is not None:
            raise InvalidInput(
                "an amount is offered by a funder; a pledge match names none", field="amount"
            )
        if command.supporting_pledge_id == state.pledge_id:
            raise InvalidInput("a pledge cannot support itself", field="supporting_pledge_id")
        if supporting is None:
            raise NotFound(
                f"pledge {command.supporting_pledge_id} does not exist",
                field="supporting_pledge_id",
            )
    elif command.funder is None or command.supporting_pledge_id is not None:
        raise InvalidInput("a funder match names a funder and no pledge", field="funder")
    if (command.amount is None) != (command.currency is None):
        missing = "currency" if command.currency is None else "amount"
        raise InvalidInput("an amount is offered with its currency", field=missing)
    if command.amount is not None and Decimal(command.amount) <= 0:
        raise InvalidInput(f"an offered amount is positive, not {command.amount}", field="amount")
    owners = (state.network_id,) + ((supporting.network_id,) if supporting is not None else ())
    require_authority(
        principal,
        "pledge.match_offered",
        action=f"offer a match to pledge {state.pledge_id} (only its network, the supporting "
        "pledge's network or, for a funder, a validator may)",
        networks=owners,
    )
    if supporting is not None:
        if supporting.network_id == state.network_id:
            raise InvalidInput(
                f"both pledges belong to network {state.network_id}: a match is agreed between "
                "two parties, and one network would answer its own offer",
                field="supporting_pledge_id",
            )
        if supporting.ended:
            raise InvalidTransition(
                f"pledge {supporting.pledge_id} is {supporting.status}: it can support nothing"
            )
    side = _offering_side(state, command, supporting, principal)
    for match in state.matches:
        same_party = (
            match.supporting_pledge_id == command.supporting_pledge_id
            if command.kind == "pledge"
            else match.funder == command.funder
        )
        if match.kind == command.kind and same_party and match.status in LIVE_MATCH:
            raise InvalidTransition(
                f"match {match.match_id} with the same party is already {match.status}: "
                "end it before offering another"
            )
    payload = MatchOffered(
        match_id=match_id,
        kind=command.kind,
        offered_by=side,
        supporting_pledge_id=command.supporting_pledge_id,
        funder=command.funder,
        amount=command.amount,
        currency=command.currency,
        note=command.note,
    )
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


def _acts_for(
    principal: Principal, side: MatchSide, match: MatchState, state: PledgeState,
    supporting_network: str | None,
) -> bool:  # fmt: skip
    if side == "host":
        return principal.role == "network" and principal.network_id == state.network_id
    if match.kind == "funder":
        return principal.role == "validator"
    return principal.role == "network" and principal.network_id == supporting_network


def _side_name(side: MatchSide, match: MatchState, state: PledgeState) -> str:
    if side == "host":
        return f"network {state.network_id} (host pledge {state.pledge_id})"
    if match.kind == "funder":
        return f"a validator, for funder {match.funder}"
    return f"the network of supporting pledge {match.supporting_pledge_id}"


def _live_match(state: PledgeState, match_id: str, answer: str) -> MatchState:
    match = state.match(match_id)
    if match is None:
        raise NotFound(f"pledge {state.pledge_id} has no match {match_id}", field="match_id")
    if match.status != "offered":
        raise InvalidTransition(
            f"match {match_id} is {match.status}: only an open offer can be {answer}"
        )
    return match


def _answer_match(
    state: PledgeState,
    match_id: str,
    supporting: PledgeState | None,
    principal: Principal,
    event_type: str,
    answer: str,
) -> MatchState:
    match = _live_match(state, match_id, answer)
    supporting_network = supporting.network_id if supporting is not None else None
    owners = (state.network_id,) + ((supporting_network,) if supporting_network else ())
    require_authority(
        principal,
        event_type,
        action=f"answer match {match_id} (only {_side_name(match.answering_side, match, state)} "
        "may)",
        networks=owners,
    )
    if not _acts_for(principal, match.answering_side, match, state, supporting_network):
        if _acts_for(principal, match.offered_by, match, state, supporting_network):
            raise NotPermitted(
                f"{principal.role} key {principal.key_id} offered match {match_id}: an offer is "
                f"{answer} by the other side, {_side_name(match.answering_side, match, state)}"
            )
        raise NotPermitted(
            f"{principal.role} key {principal.key_id} may not answer match {match_id} (only "
            f"{_side_name(match.answering_side, match, state)} may)"
        )
    return match


@refusing_invalid_input
def accept_match(
    state: PledgeState,
    command: AcceptMatch,
    supporting: PledgeState | None,
    principal: Principal,
) -> list[NewEvent]:
    """The answering side accepts an open offer; both pledges must still be open."""
    _answer_match(
        state, command.match_id, supporting, principal, "pledge.match_accepted", "accepted"
    )
    _require_open(state, "accepting a match")
    if supporting is not None and supporting.ended:
        raise InvalidTransition(
            f"pledge {supporting.pledge_id} is {supporting.status}: a match with it cannot be "
            "accepted"
        )
    payload = MatchAccepted(match_id=command.match_id, note=command.note)
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


@refusing_invalid_input
def decline_match(
    state: PledgeState,
    command: DeclineMatch,
    supporting: PledgeState | None,
    principal: Principal,
) -> list[NewEvent]:
    _answer_match(
        state, command.match_id, supporting, principal, "pledge.match_declined", "declined"
    )
    _require_open(state, "declining a match")
    payload = MatchDeclined(match_id=command.match_id, reason=command.reason)
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


@refusing_invalid_input
def end_match(
    state: PledgeState,
    command: EndMatch,
    supporting: PledgeState | None,
    principal: Principal,
) -> list[NewEvent]:
    """Either side ends an open offer (the offerer takes it back) or an accepted match."""
    match = state.match(command.match_id)
    if match is None:
        raise NotFound(
            f"pledge {state.pledge_id} has no match {command.match_id}", field="match_id"
        )
    supporting_network = supporting.network_id if supporting is not None else None
    owners = (state.network_id,) + ((supporting_network,) if supporting_network else ())
    require_authority(
        principal,
        "pledge.match_ended",
        action=f"end match {command.match_id} (only one of its two sides may)",
        networks=owners,
    )
    if not any(
        _acts_for(principal, side, match, state, supporting_network)
        for side in ("host", "supporter")
    ):
        raise NotPermitted(
            f"{principal.role} key {principal.key_id} is not a side of match {command.match_id}"
        )
    _require_open(state, "ending a match")
    if match.status not in LIVE_MATCH:
        raise InvalidTransition(f"match {command.match_id} is already {match.status}")
    payload = MatchEnded(match_id=command.match_id, reason=command.reason)
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


@refusing_invalid_input
def withdraw_pledge(
    state: PledgeState, command: WithdrawPledge, principal: Principal
) -> list[NewEvent]:
    _require_owner(state, principal, "pledge.withdrawn", "withdraw it")
    _require_open(state, "a withdrawal")
    return [NewEvent(PledgeWithdrawn(reason=command.reason), on_behalf_of=_on_behalf_of(state))]


@refusing_invalid_input
def close_pledge(
    state: PledgeState, command: ClosePledge, principal: Principal, today: date
) -> list[NewEvent]:
    _require_owner(state, principal, "pledge.closed", "close it")
    _require_open(state, "a closure")
    payload = PledgeClosed(outcome=command.outcome, note=command.note)
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state), occurred_on=today)]


@refusing_invalid_input
def record_erratum(
    state: PledgeState,
    command: RecordErratum,
    stream_event_ids: Container[str],
    principal: Principal,
) -> list[NewEvent]:
    """The one event allowed after a pledge has ended: it annotates, never rewrites."""
    require_authority(
        principal,
        "pledge.erratum_recorded",
        action="record errata on this pledge",
        networks=(state.network_id,),
    )
    if command.corrects_event_id not in stream_event_ids:
        raise NotFound(
            f"event {command.corrects_event_id} is not part of pledge {state.pledge_id}",
            field="corrects_event_id",
        )
    payload = ErratumRecorded(corrects_event_id=command.corrects_event_id, note=command.note)
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


def _only_adds_languages(original: Mapping[str, str], new: Mapping[str, str]) -> bool:
    """Whether ``new`` keeps every original text as it is and only adds languages to it."""
    return set(original) < set(new) and all(new[lang] == text for lang, text in original.items())


TITLE_MAX_LENGTH = 300


@refusing_invalid_input
def translate_pledge(
    state: PledgeState,
    command: TranslatePledge,
    narrative: Mapping[Language, str] | None,
    principal: Principal,
) -> list[NewEvent]:
    """Record a translation: never material, so the pledge's status does not change.

    The original languages of a text are those its recorded version holds (the title and
    description as submitted or last amended, a report's narrative as reported); a translation
    into one of them is refused, since that text is the original: amend it instead. A
    narrative's ``narrative`` is the named progress report's (None: no such report of this
    pledge). Allowed on an ended pledge too: a translation changes nothing that was promised.
    """
    _require_owner(state, principal, "pledge.translated", "translate it")
    original: Mapping[Language, str]
    if command.field == "narrative":
        if command.progress_event_id is None:
            raise InvalidInput(
                "a narrative's translation names its progress report's event id",
                field="progress_event_id",
            )
        if narrative is None:
            raise NotFound(
                f"event {command.progress_event_id} is not a progress report of pledge "
                f"{state.pledge_id}",
                field="progress_event_id",
            )
        if not narrative:
            raise InvalidInput(
                f"progress report {command.progress_event_id} has no narrative to translate",
                field="progress_event_id",
            )
        original = narrative
    else:
        if command.progress_event_id is not None:
            raise InvalidInput(
                "only a narrative's translation names a progress report, "
                f"not the {command.field}'s",
                field="progress_event_id",
            )
        original = getattr(state.content, command.field)
        if command.field == "title" and len(command.text) > TITLE_MAX_LENGTH:
            raise InvalidInput(f"a title is at most {TITLE_MAX_LENGTH} characters", field="text")
    if command.language in original:
        what = "the report's narrative" if command.field == "narrative" else f"the {command.field}"
        raise InvalidInput(
            f"{what} is written in {command.language}: that text is the original, not a "
            "translation (change it with an amendment)",
            field="language",
        )
    payload = PledgeTranslated(
        field=command.field,
        language=command.language,
        text=command.text,
        progress_event_id=command.progress_event_id,
    )
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]


@refusing_invalid_input
def correct_observation(
    state: PledgeState,
    command: CorrectObservation,
    observed: Observation | None,
    current: ObservationCorrected | None,
    principal: Principal,
) -> list[NewEvent]:
    """Supersede one observation with a corrected reading (an erratum: also after the end).

    ``observed`` is the observation as its progress report recorded it (None: the report, or
    that indicator and date in it, does not exist in this pledge); ``current``, the latest
    correction of it so far, if any.
    """
    require_authority(
        principal,
        "pledge.observation_corrected",
        action=f"correct figures of pledge {state.pledge_id} (only network {state.network_id}, "
        "which reports them, or an admin may)",
        networks=(state.network_id,),
    )
    if observed is None:
        raise NotFound(
            f"pledge {state.pledge_id} has no observation of {command.indicator_id} on "
            f"{command.date.isoformat()} in progress report {command.progress_event_id}",
            field="progress_event_id",
        )
    indicator = next((i for i in state.content.indicators if i.id == command.indicator_id), None)
    if indicator is None:
        raise NotFound(
            f"pledge {state.pledge_id} no longer has indicator {command.indicator_id}",
            field="indicator_id",
        )
    _check_value(indicator, command.value, "value")
    if indicator.measure == "qualitative" and not command.comment:
        raise InvalidInput(
            f"indicator {indicator.id} is qualitative: the corrected reading is its comment",
            field="comment",
        )
    previous_value = current.value if current is not None else observed.value
    previous_comment = current.comment if current is not None else observed.comment
    if command.value == previous_value and command.comment == previous_comment:
        raise InvalidInput("the observation already reads so: nothing to correct", field="value")
    payload = ObservationCorrected(
        progress_event_id=command.progress_event_id,
        indicator_id=command.indicator_id,
        date=command.date,
        previous_value=previous_value,
        value=command.value,
        comment=command.comment,
        reason=command.reason,
    )
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state))]
