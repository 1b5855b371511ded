"""Reference data on the log: priority areas, declarations and calls to action (ADR 0014).

Institutions decide these lists and change them over time, so they are not settings or code but
events, each item its own stream (``area:<id>``, ``declaration:<id>``, ``call:<id>``), registered
by an admin. A pledge's tags are checked against them when the pledge is submitted or when an
amendment adds the tag, as the log stands at that moment; the tags a pledge already carries are
never checked again, so a later change of a list (an area retired, a call closed) never makes an
old pledge unamendable.

A priority area's events are ``area.*`` and its stream ``area:<id>``: the rebuild of the read
models folds the streams that sort before ``pledge:`` with the registry.

``SEED_*`` is what a new deployment starts from (``pledge-ledger reference seed``, the demo): the
Marrakech Mayors Declaration and a neutral working list of priority areas. Seeding registers only
what has no stream yet, as events like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from domain.authority import require_authority
from domain.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from domain.events import (
    CallRegistered,
    DeclarationRegistered,
    Model,
    NewEvent,
    Payload,
    PriorityAreaRegistered,
    PriorityAreaRetired,
    refusing_invalid_input,
)
from domain.principal import Principal
from domain.registry import DeclarationState
from domain.values import IsoDate, Language, LocalizedTitle, Reason, Slug


def priority_area_stream(area_id: str) -> str:
    return f"area:{area_id}"


def call_stream(call_id: str) -> str:
    return f"call:{call_id}"


# --- states ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriorityAreaState:
    area_id: str
    title: dict[Language, str]
    retired: bool = False


@dataclass(frozen=True, slots=True)
class CallState:
    call_id: str
    title: dict[Language, str]
    opens_on: date
    closes_on: date

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on


def evolve_priority_area(state: PriorityAreaState | None, payload: Payload) -> PriorityAreaState:
    if isinstance(payload, PriorityAreaRegistered):
        return PriorityAreaState(payload.area_id, dict(payload.title))
    if state is None:
        raise InvalidInput("priority area event before the area was registered", field="type")
    if isinstance(payload, PriorityAreaRetired):
        return PriorityAreaState(state.area_id, state.title, retired=True)
    raise InvalidInput(f"{type(payload).__name__} does not belong to a priority area", field="type")


def evolve_call(state: CallState | None, payload: Payload) -> CallState:
    if isinstance(payload, CallRegistered):
        return CallState(payload.call_id, dict(payload.title), payload.opens_on, payload.closes_on)
    raise InvalidInput(f"{type(payload).__name__} does not belong to a call", field="type")


@dataclass(frozen=True, slots=True)
class ReferenceTags:
    """The log's reference items a pledge command names, as they stand when it is decided.

    Only the items the command adds are looked up (and checked); ``today`` is the ledger's day.
    """

    today: date
    priority_areas: Mapping[str, PriorityAreaState | None] = field(default_factory=dict)
    calls: Mapping[str, CallState | None] = field(default_factory=dict)

    def check_priority_area(self, area_id: str) -> None:
        state = self.priority_areas.get(area_id)
        if state is None:
            raise NotFound(
                f"priority area {area_id!r} is not registered (GET /api/v1/reference/priority-areas"
                " lists them)",
                field="priority_areas",
            )
        if state.retired:
            raise InvalidInput(
                f"priority area {area_id!r} was retired: new pledges and tag changes may not "
                "name it",
                field="priority_areas",
            )

    def check_call(self, call_id: str) -> None:
        state = self.calls.get(call_id)
        if state is None:
            raise NotFound(f"call to action {call_id!r} is not registered", field="calls")
        if not state.is_open_on(self.today):
            raise InvalidInput(
                f"call to action {call_id!r} takes answers from {state.opens_on.isoformat()} to "
                f"{state.closes_on.isoformat()}, not on {self.today.isoformat()}",
                field="calls",
            )


# --- commands -------------------------------------------------------------------------------------


class RegisterPriorityArea(Model):
    id: Slug
    title: LocalizedTitle


class RetirePriorityArea(Model):
    reason: Reason


class RegisterDeclaration(Model):
    id: Slug
    title: LocalizedTitle
    adopted_on: IsoDate


class RegisterCall(Model):
    id: Slug
    title: LocalizedTitle
    opens_on: IsoDate
    closes_on: IsoDate


# --- decisions ------------------------------------------------------------------------------------


@refusing_invalid_input
def register_priority_area(
    command: RegisterPriorityArea, existing: PriorityAreaState | None, principal: Principal
) -> list[NewEvent]:
    require_authority(principal, "area.registered", action="register priority areas")
    if existing is not None:
        raise AlreadyExists(f"priority area {command.id} is already registered", field="id")
    return [NewEvent(PriorityAreaRegistered(area_id=command.id, title=command.title))]


@refusing_invalid_input
def retire_priority_area(
    area_id: str,
    command: RetirePriorityArea,
    existing: PriorityAreaState | None,
    principal: Principal,
) -> list[NewEvent]:
    require_authority(principal, "area.retired", action="retire priority areas")
    if existing is None:
        raise NotFound(f"priority area {area_id} is not registered", field="area_id")
    if existing.retired:
        raise InvalidTransition(f"priority area {area_id} is already retired")
    return [NewEvent(PriorityAreaRetired(area_id=area_id, reason=command.reason))]


@refusing_invalid_input
def register_declaration(
    command: RegisterDeclaration, existing: DeclarationState | None, principal: Principal
) -> list[NewEvent]:
    """Register a declaration; a store whose signatures predate registration may register it
    afterwards (its stream then already holds those signatures)."""
    require_authority(principal, "declaration.registered", action="register declarations")
    if existing is not None and existing.adopted_on is not None:
        raise AlreadyExists(f"declaration {command.id} is already registered", field="id")
    first = existing.first_signed_on if existing is not None else None
    if first is not None and first < command.adopted_on:
        raise InvalidInput(
            f"a city signed {command.id} on {first.isoformat()}, before this adoption date",
            field="adopted_on",
        )
    payload = DeclarationRegistered(
        declaration_id=command.id, title=command.title, adopted_on=command.adopted_on
    )
    return [NewEvent(payload, occurred_on=command.adopted_on)]


@refusing_invalid_input
def register_call(
    command: RegisterCall, existing: CallState | None, principal: Principal
) -> list[NewEvent]:
    require_authority(principal, "call.registered", action="register calls to action")
    if existing is not None:
        raise AlreadyExists(f"call to action {command.id} is already registered", field="id")
    if command.closes_on < command.opens_on:
        raise InvalidInput("closes_on is before opens_on", field="closes_on")
    payload = CallRegistered(
        call_id=command.id,
        title=command.title,
        opens_on=command.opens_on,
        closes_on=command.closes_on,
    )
    return [NewEvent(payload)]


# --- the seed of a new deployment -----------------------------------------------------------------

SEED_DECLARATIONS: tuple[RegisterDeclaration, ...] = (
    RegisterDeclaration(
        id="marrakech-2018",
        title={
            "en": "Marrakech Mayors Declaration: Cities working together for migrants and refugees",
            "fr": "Déclaration des maires de Marrakech : les villes œuvrant ensemble pour les "
            "migrants et les réfugiés",
            "es": "Declaración de alcaldes de Marrakech: ciudades que trabajan juntas por los "
            "migrantes y los refugiados",
        },
        adopted_on=date(2018, 12, 8),
    ),
)

SEED_PRIORITY_AREAS: tuple[RegisterPriorityArea, ...] = tuple(
    RegisterPriorityArea(id=slug, title={"en": en, "fr": fr, "es": es})
    for slug, en, fr, es in (
        (
            "access-to-services",
            "Access to services",
            "Accès aux services",
            "Acceso a los servicios",
        ),
        (
            "inclusion-and-social-cohesion",
            "Inclusion and social cohesion",
            "Inclusion et cohésion sociale",
            "Inclusión y cohesión social",
        ),
        (
            "decent-work-and-skills",
            "Decent work and skills",
            "Travail décent et compétences",
            "Trabajo decente y competencias",
        ),
        ("housing", "Housing", "Logement", "Vivienda"),
        ("education", "Education", "Éducation", "Educación"),
        ("health", "Health", "Santé", "Salud"),
        ("anti-discrimination", "Anti-discrimination", "Lutte contre les discriminations",
         "Lucha contra la discriminación"),
    )
)  # fmt: skip
DEFAULT_PRIORITY_AREAS: tuple[str, ...] = tuple(area.id for area in SEED_PRIORITY_AREAS)


def seed_priority_area(area_id: str) -> RegisterPriorityArea:
    """The seed registration of ``area_id``: the shipped titles, or its slug spelled out."""
    for area in SEED_PRIORITY_AREAS:
        if area.id == area_id:
            return area
    return RegisterPriorityArea(id=area_id, title={"en": area_id.replace("-", " ").capitalize()})
