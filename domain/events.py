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

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from domain.errors import InvalidInput
from domain.principal import Role
from domain.values import (
    CountryCode,
    DecimalString,
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


# --- pledge lifecycle ---------------------------------------------------------------------------


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


class PledgeMatched(Payload):
    kind: Literal["pledge", "funder"]
    supporting_pledge_id: str | None = None
    funder: ShortText | None = None
    note: Text = ""


class PledgeWithdrawn(Payload):
    reason: Reason


class PledgeClosed(Payload):
    outcome: Outcome
    note: Text = ""


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
        EventSpec("pledge.submitted", PledgeSubmitted),
        EventSpec("pledge.amended", PledgeAmended),
        EventSpec("pledge.validated", PledgeValidated),
        EventSpec("pledge.changes_requested", PledgeChangesRequested),
        EventSpec("pledge.progress_reported", ProgressReported),
        EventSpec("pledge.matched", PledgeMatched),
        EventSpec("pledge.withdrawn", PledgeWithdrawn),
        EventSpec("pledge.closed", PledgeClosed),
        EventSpec("pledge.erratum_recorded", ErratumRecorded),
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
