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

from collections.abc import Callable, Iterable, Mapping
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
    Model,
    NewEvent,
    Observation,
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
class PledgeState:
    pledge_id: str
    network_id: str
    content: PledgeContent
    status: Status
    stage: Stage | None = None
    outcome: Outcome | None = None
    last_period_end: date | None = None
    ever_validated: bool = False

    @property
    def ended(self) -> bool:
        return self.status in ENDED


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
            s.ever_validated,
        )  # fmt: skip
    if kind is PledgeValidated:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "validated", s.stage, s.outcome,
            s.last_period_end, True,
        )  # fmt: skip
    if kind is PledgeAmended:
        amended = cast(PledgeAmended, payload)
        content = amended_content(s.content, amended.changes)
        status = s.status
        if status == "changes_requested" or (amended.material and status == "validated"):
            status = "awaiting_validation"
        return PledgeState(
            s.pledge_id, s.network_id, content, status, s.stage, s.outcome, s.last_period_end,
            s.ever_validated,
        )  # fmt: skip
    if kind is PledgeChangesRequested:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "changes_requested", s.stage, s.outcome,
            s.last_period_end, s.ever_validated,
        )  # fmt: skip
    if kind is PledgeWithdrawn:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "withdrawn", s.stage, s.outcome,
            s.last_period_end, s.ever_validated,
        )  # fmt: skip
    if kind is PledgeClosed:
        return PledgeState(
            s.pledge_id, s.network_id, s.content, "closed", s.stage,
            cast(PledgeClosed, payload).outcome, s.last_period_end, s.ever_validated,
        )  # fmt: skip
    if (
        kind is PledgeMatched
        or kind is ErratumRecorded
        or kind is PledgeTranslated
        or kind is ExternalIdAdded
        or kind is ExternalIdRemoved
    ):
        return s
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
        return PledgeContent.model_validate(self.model_dump(exclude={"network_id"}))


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


class MatchPledge(Command):
    kind: Literal["pledge", "funder"]
    supporting_pledge_id: str | None = None
    funder: ShortText | None = None
    note: Text = ""


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
    if indicator.measure == "qualitative":
        if point.value is not None:
            raise InvalidInput(
                f"indicator {indicator.id} is qualitative: give a comment, not a value",
                field=f"{where}.value",
            )
        return
    if point.value is None:
        raise InvalidInput(
            f"indicator {indicator.id} is measured in {indicator.measure}s: a value is required",
            field=f"{where}.value",
        )
    if indicator.measure == "percentage" and not Decimal(0) <= Decimal(point.value) <= 100:
        raise InvalidInput(
            f"indicator {indicator.id} is a percentage: {point.value} is not within 0..100",
            field=f"{where}.value",
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
    )
    return [NewEvent(payload, on_behalf_of=_on_behalf_of(state), occurred_on=period.end)]


@refusing_invalid_input
def match_pledge(
    state: PledgeState,
    command: MatchPledge,
    supporting: PledgeState | None,
    principal: Principal,
) -> list[NewEvent]:
    """Link a supporting pledge or a funder; ``supporting`` is the named pledge's state, if any."""
    _require_open(state, "a match")
    if command.kind == "pledge":
        if command.supporting_pledge_id is None or command.funder is not None:
            raise InvalidInput(
                "a pledge match names supporting_pledge_id and no funder",
                field="supporting_pledge_id",
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
    owners = (state.network_id,) + ((supporting.network_id,) if supporting is not None else ())
    require_authority(
        principal, "pledge.matched", action="link pledges of other networks", networks=owners
    )
    payload = PledgeMatched(
        kind=command.kind,
        supporting_pledge_id=command.supporting_pledge_id,
        funder=command.funder,
        note=command.note,
    )
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
    stream_event_ids: frozenset[str],
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
