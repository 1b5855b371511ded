"""The persisted event contract: stable type strings, their payload models and schema versions.

Event payloads are frozen pydantic models. Type strings are past tense, namespaced by the stream
kind, and never change. Every type is at schema version 1 today; a later change is additive, or
raises the type's schema version in ``EVENT_SPECS`` together with an explicit upcaster from the
older versions, which ``parse_payload`` would then apply. ``tests/golden`` pins every type string
and its canonical bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    ValidationError,
    model_serializer,
)

from domain.errors import InvalidInput
from domain.principal import Role
from domain.values import (
    CountryCode,
    CurrencyCode,
    DecimalString,
    ExternalIdScheme,
    ExternalIdValue,
    IsoDate,
    Language,
    LocalizedText,
    LocalizedTitle,
    OptionalLocalizedText,
    Reason,
    Sha256Hex,
    ShortText,
    Slug,
    Text,
    TranslationText,
    Url,
)

Measure = Literal["unit", "percentage", "qualitative"]
Stage = Literal["not_started", "planning", "in_progress", "on_hold", "completed"]
Outcome = Literal["fulfilled", "partially_fulfilled", "not_fulfilled"]
Criterion = Literal[
    "specific",
    "measurable",
    "achievable",
    "relevant",
    "time_bound",
    "aligned_with_compacts",
    "city_endorsed",
]
Decision = Literal["validated", "changes_requested"]
MatchKind = Literal["pledge", "funder"]
MatchSide = Literal["host", "supporter"]
"""The two sides of a match: the pledge whose stream holds it (the host) and the supporting
pledge or funder. A funder is not on the ledger: a validator acts for it."""

STAGES: tuple[str, ...] = ("not_started", "planning", "in_progress", "on_hold", "completed")
OUTCOMES: tuple[str, ...] = ("fulfilled", "partially_fulfilled", "not_fulfilled")


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Payload(Model):
    """Base of every event payload."""


# --- indicator shapes (IATI-like results) -----------------------------------------------------


class IndicatorPoint(Model):
    """A baseline or target: a decimal value (absent for qualitative indicators) on a date."""

    value: DecimalString | None = None
    date: IsoDate
    comment: Text = ""


class Indicator(Model):
    id: Slug
    title: LocalizedTitle
    measure: Measure
    ascending: bool = True
    baseline: IndicatorPoint | None = None
    targets: tuple[IndicatorPoint, ...] = Field(default=(), max_length=50)


class Observation(Model):
    indicator_id: Slug
    value: DecimalString | None = None
    date: IsoDate
    comment: Text = ""


class Period(Model):
    start: IsoDate
    end: IsoDate


class Evidence(Model):
    url: Url
    sha256: Sha256Hex
    title: Text = ""


# --- registry -----------------------------------------------------------------------------------


class NetworkRegistered(Payload):
    network_id: Slug
    name: LocalizedTitle


class CityRegistered(Payload):
    city_id: Slug
    name: LocalizedTitle
    country: CountryCode


class CityJoinedNetwork(Payload):
    network_id: Slug
    city_id: Slug


class CityLeftNetwork(Payload):
    network_id: Slug
    city_id: Slug


class DeclarationSigned(Payload):
    declaration_id: Slug
    city_id: Slug
    signed_on: IsoDate


# --- reference data (ADR 0014) --------------------------------------------------------------------


class DeclarationRegistered(Payload):
    """A declaration cities may sign (the Marrakech Mayors Declaration was the first)."""

    declaration_id: Slug
    title: LocalizedTitle
    adopted_on: IsoDate


class PriorityAreaRegistered(Payload):
    area_id: Slug
    title: LocalizedTitle


class PriorityAreaRetired(Payload):
    """No new pledge or tag change may name the area; pledges that already do keep it."""

    area_id: Slug
    reason: Reason


class CallRegistered(Payload):
    """A call to action: pledges may answer it from ``opens_on`` to ``closes_on`` inclusive."""

    call_id: Slug
    title: LocalizedTitle
    opens_on: IsoDate
    closes_on: IsoDate


class CityCorrected(Payload):
    """A registry correction of a city: each field given replaces the recorded one.

    ``name`` is the city's complete set of names after the correction (a correction that adds a
    French name carries the English one too), so the event reads alone.
    """

    city_id: Slug
    name: LocalizedTitle | None = None
    country: CountryCode | None = None
    reason: Reason


class NetworkCorrected(Payload):
    """A registry correction of a network's names (the complete set after the correction)."""

    network_id: Slug
    name: LocalizedTitle
    reason: Reason


class SignatureWithdrawn(Payload):
    """A city withdrew its signature of a declaration (the signature stays on the log)."""

    declaration_id: Slug
    city_id: Slug
    withdrawn_on: IsoDate
    reason: Reason


# --- pledge lifecycle ---------------------------------------------------------------------------

# Fields added to a pledge after events were first recorded (ADR 0014). They are left out of a
# payload's JSON while they hold their default (``exclude_if``), so that the canonical bytes of
# every pledge event recorded before them (and of every pledge that does not use them) stay
# exactly as they were.
ADDED_PLEDGE_FIELDS: tuple[str, ...] = ("gcm_principles", "nua_paragraphs", "calls")


def _is_empty(value: tuple[Any, ...]) -> bool:
    return not value


def _is_none(value: object) -> bool:
    return value is None


class PledgeFields(Model):
    """The fields of a pledge that its submitter writes and may later amend, defined once.

    ``PledgeContent`` (the stored content) and ``domain.pledge.SubmitPledge`` (the command)
    inherit them; ``PledgeChanges`` repeats each as optional, and a test pins it to these.
    """

    cities: tuple[Slug, ...] = Field(min_length=1, max_length=100)
    title: LocalizedTitle
    description: LocalizedText
    gcm_objectives: tuple[StrictInt, ...] = Field(default=(), max_length=23)
    gcr_areas: tuple[str, ...] = Field(default=(), max_length=50)
    sdg_targets: tuple[str, ...] = Field(default=(), max_length=100)
    priority_areas: tuple[str, ...] = Field(default=(), max_length=20)
    starts_on: IsoDate
    ends_on: IsoDate
    indicators: tuple[Indicator, ...] = Field(default=(), max_length=50)
    gcm_principles: tuple[str, ...] = Field(default=(), max_length=10, exclude_if=_is_empty)
    nua_paragraphs: tuple[StrictInt, ...] = Field(default=(), max_length=175, exclude_if=_is_empty)
    calls: tuple[Slug, ...] = Field(default=(), max_length=20, exclude_if=_is_empty)


class PledgeContent(PledgeFields):
    """A pledge's content as recorded in ``pledge.submitted`` and folded from amendments."""


class PledgeSubmitted(Payload):
    pledge_id: str
    network_id: Slug
    content: PledgeContent


class PledgeChanges(Model):
    """A partial ``PledgeContent``: only the fields that change.

    Every field of ``PledgeFields``, in its order, with its type and constraints, made optional
    (default None). It is written out rather than generated so that type checkers see its
    fields; ``tests/unit/test_domain_pledge_fields.py`` fails if it drifts from ``PledgeFields``.
    """

    cities: tuple[Slug, ...] | None = Field(default=None, min_length=1, max_length=100)
    title: LocalizedTitle | None = None
    description: LocalizedText | None = None
    gcm_objectives: tuple[StrictInt, ...] | None = Field(default=None, max_length=23)
    gcr_areas: tuple[str, ...] | None = Field(default=None, max_length=50)
    sdg_targets: tuple[str, ...] | None = Field(default=None, max_length=100)
    priority_areas: tuple[str, ...] | None = Field(default=None, max_length=20)
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    indicators: tuple[Indicator, ...] | None = Field(default=None, max_length=50)
    # An unchanged added field (None) is left out, as in PledgeFields; a change to () is kept.
    gcm_principles: tuple[str, ...] | None = Field(default=None, max_length=10, exclude_if=_is_none)
    nua_paragraphs: tuple[StrictInt, ...] | None = Field(
        default=None, max_length=175, exclude_if=_is_none
    )
    calls: tuple[Slug, ...] | None = Field(default=None, max_length=20, exclude_if=_is_none)

    def changed_fields(self) -> tuple[str, ...]:
        return tuple(name for name in type(self).model_fields if getattr(self, name) is not None)


class PledgeAmended(Payload):
    changes: PledgeChanges
    reason: Reason
    material: bool


class PledgeValidated(Payload):
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    note: Text = ""


class PledgeChangesRequested(Payload):
    criteria: tuple[Criterion, ...] = ()
    note: Reason


class ProgressReported(Payload):
    period: Period
    stage: Stage
    observations: tuple[Observation, ...] = Field(default=(), max_length=200)
    narrative: OptionalLocalizedText = Field(default_factory=dict)
    evidence: tuple[Evidence, ...] = Field(default=(), max_length=50)
    support_needed: Text = ""
    """What support the pledge needs now (empty: none asked); it feeds matching. Added after
    schema version 1 was pinned: left out of the canonical bytes when empty (ADR 0015)."""

    @model_serializer(mode="wrap")
    def _leave_out_no_support(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not self.support_needed and isinstance(data, dict):
            data.pop("support_needed", None)
        return data


class PledgeMatched(Payload):
    """A one-sided link recorded before two-way matching (ADR 0015): still read, never written."""

    kind: Literal["pledge", "funder"]
    supporting_pledge_id: str | None = None
    funder: ShortText | None = None
    note: Text = ""


class MatchOffered(Payload):
    """One side offers a match; it lives on the host pledge's stream (ADR 0015)."""

    match_id: str
    kind: MatchKind
    offered_by: MatchSide
    supporting_pledge_id: str | None = None
    funder: ShortText | None = None
    amount: DecimalString | None = None
    currency: CurrencyCode | None = None
    note: Text = ""


class MatchAccepted(Payload):
    match_id: str
    note: Text = ""


class MatchDeclined(Payload):
    match_id: str
    reason: Reason


class MatchEnded(Payload):
    match_id: str
    reason: Reason


class ObservationCorrected(Payload):
    """An erratum that supersedes one indicator observation with a corrected value.

    The observation is named by the progress report that recorded it, its indicator and its
    date (unique within a report, a domain rule), so observations recorded before this event
    existed are addressable too. ``previous_value`` is the value it supersedes (the reported
    one, or an earlier correction's), so the timeline shows both.
    """

    progress_event_id: str
    indicator_id: Slug
    date: IsoDate
    previous_value: DecimalString | None = None
    value: DecimalString | None = None
    comment: Text = ""
    reason: Reason


class PledgeWithdrawn(Payload):
    reason: Reason


class PledgeClosed(Payload):
    outcome: Outcome
    note: Text = ""


TranslatedField = Literal["title", "description", "narrative"]
TRANSLATED_FIELDS: tuple[str, ...] = ("title", "description", "narrative")


class PledgeTranslated(Payload):
    """A text of the pledge in a language its author did not write it in (never material).

    ``field`` is the pledge's ``title`` or ``description``, or the ``narrative`` of the
    progress report whose event id is ``progress_event_id``. A later translation of the same
    text into the same language replaces it.
    """

    field: TranslatedField
    language: Language
    text: TranslationText
    progress_event_id: str | None = None


class ExternalIdAdded(Payload):
    """An id the pledge has elsewhere: ``grf``, ``gcm`` or its network's own reference."""

    scheme: ExternalIdScheme
    value: ExternalIdValue


class ExternalIdRemoved(Payload):
    scheme: ExternalIdScheme
    value: ExternalIdValue
    reason: Reason


class ExternalIdClaimed(Payload):
    """The uniqueness guard of an external id: its stream holds who uses ``scheme:value``.

    Recorded in the same append as the pledge's ``pledge.external_id_added``, in a stream named
    by the id's digest (``domain.external_ids.claim_stream``), so that two pledges can never
    hold the same id: the second append collides on the stream's version.
    """

    scheme: ExternalIdScheme
    value: ExternalIdValue
    pledge_id: str


class ExternalIdReleased(Payload):
    scheme: ExternalIdScheme
    value: ExternalIdValue
    pledge_id: str


class ErratumRecorded(Payload):
    """A correction note pointing at an earlier event of the same stream (never a rewrite)."""

    corrects_event_id: str
    note: Reason


# --- API keys -------------------------------------------------------------------------------------


class KeyIssued(Payload):
    """An API key was issued: its id, role and network (never its secret)."""

    key_id: Slug
    role: Role
    network_id: Slug | None = None
    label: Annotated[Text, Field(max_length=100)] = ""


class KeyRevoked(Payload):
    key_id: Slug
    reason: Reason


# --- report publication ---------------------------------------------------------------------------

Framework = Literal["gcm", "gcr", "all"]
ReportFormat = Literal["md", "csv", "json", "html"]
FRAMEWORKS: tuple[Framework, ...] = ("gcm", "gcr", "all")


class ReportPublished(Payload):
    """A report was handed to a forum: what it rests on, its scope and the digests of its bytes.

    ``report_sha256`` is the report's own digest (SHA-256 of the canonical JSON of its JSON form
    without that field), ``output_sha256`` the SHA-256 of the exact bytes published in
    ``format``. With the scope below, anyone can compute the report again from the log's first
    ``tree_size`` entries and compare both.
    """

    report_sha256: Sha256Hex
    output_sha256: Sha256Hex
    format: ReportFormat
    as_of: IsoDate
    network_id: Slug | None = None
    framework: Framework
    lang: Language
    freshness_months: StrictInt = Field(ge=1, le=120)
    tree_size: StrictInt = Field(ge=0)
    checkpoint_tree_size: StrictInt = Field(ge=0)


@dataclass(frozen=True, slots=True)
class EventSpec:
    event_type: str
    payload: type[Payload]
    schema_version: int = 1


EVENT_SPECS: dict[str, EventSpec] = {
    spec.event_type: spec
    for spec in (
        EventSpec("network.registered", NetworkRegistered),
        EventSpec("network.city_joined", CityJoinedNetwork),
        EventSpec("network.city_left", CityLeftNetwork),
        EventSpec("city.registered", CityRegistered),
        EventSpec("declaration.signed", DeclarationSigned),
        EventSpec("declaration.registered", DeclarationRegistered),
        EventSpec("area.registered", PriorityAreaRegistered),
        EventSpec("area.retired", PriorityAreaRetired),
        EventSpec("call.registered", CallRegistered),
        EventSpec("declaration.signature_withdrawn", SignatureWithdrawn),
        EventSpec("city.corrected", CityCorrected),
        EventSpec("network.corrected", NetworkCorrected),
        EventSpec("pledge.submitted", PledgeSubmitted),
        EventSpec("pledge.amended", PledgeAmended),
        EventSpec("pledge.validated", PledgeValidated),
        EventSpec("pledge.changes_requested", PledgeChangesRequested),
        EventSpec("pledge.progress_reported", ProgressReported),
        EventSpec("pledge.matched", PledgeMatched),
        EventSpec("pledge.withdrawn", PledgeWithdrawn),
        EventSpec("pledge.closed", PledgeClosed),
        EventSpec("pledge.erratum_recorded", ErratumRecorded),
        EventSpec("pledge.translated", PledgeTranslated),
        EventSpec("pledge.external_id_added", ExternalIdAdded),
        EventSpec("pledge.external_id_removed", ExternalIdRemoved),
        EventSpec("extid.claimed", ExternalIdClaimed),
        EventSpec("extid.released", ExternalIdReleased),
        EventSpec("pledge.match_offered", MatchOffered),
        EventSpec("pledge.match_accepted", MatchAccepted),
        EventSpec("pledge.match_declined", MatchDeclined),
        EventSpec("pledge.match_ended", MatchEnded),
        EventSpec("pledge.observation_corrected", ObservationCorrected),
        EventSpec("apikey.issued", KeyIssued),
        EventSpec("apikey.revoked", KeyRevoked),
        EventSpec("report.published", ReportPublished),
    )
}
TYPE_OF_PAYLOAD: dict[type[Payload], str] = {s.payload: s.event_type for s in EVENT_SPECS.values()}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What a decision returns: the ledger adds ids, versions, clock and principal."""

    payload: Payload
    on_behalf_of: tuple[str, ...] = ()
    occurred_on: date | None = None
    stream_id: str | None = None
    """Another stream than the command's, for a guard written in the same append (an external
    id's claim); None: the command's own stream."""
    type: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", TYPE_OF_PAYLOAD[type(self.payload)])


def parse_payload(event_type: str, schema_version: int, data: dict[str, Any]) -> Payload:
    """Decode a stored payload into its model; refuse a schema version this code does not know."""
    spec = EVENT_SPECS.get(event_type)
    if spec is None:
        raise InvalidInput(f"unknown event type {event_type!r}", field="type")
    if schema_version > spec.schema_version or schema_version < 1:
        raise InvalidInput(
            f"{event_type} schema version {schema_version} is not supported "
            f"(this code knows 1..{spec.schema_version})",
            field="schema_version",
        )
    try:
        return spec.payload.model_validate(data)
    except ValidationError as error:
        raise invalid_input_from(error) from error


P = ParamSpec("P")
R = TypeVar("R")


def refusing_invalid_input(decide: Callable[P, R]) -> Callable[P, R]:
    """Decisions build payload models; a value the payload refuses is the caller's bad input."""

    @functools.wraps(decide)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return decide(*args, **kwargs)
        except ValidationError as error:
            raise invalid_input_from(error) from error

    return checked


def invalid_input_from(error: ValidationError, prefix: str = "") -> InvalidInput:
    """One clear line from pydantic's error list: the first offending field and why."""
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    if prefix:
        location = f"{prefix}.{location}" if location else prefix
    message = str(first["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return InvalidInput(message, field=location or None)
