"""The registry: networks, cities, network membership and declarations.

Each network, city and declaration is its own stream. Membership events live in the network's
stream, signatures in the declaration's, so that every rule is checked against one stream's
state plus the states the command names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from pydantic import model_validator

from domain.authority import require_authority
from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.events import (
    CityCorrected,
    CityJoinedNetwork,
    CityLeftNetwork,
    CityRegistered,
    DeclarationRegistered,
    DeclarationSigned,
    Model,
    NetworkCorrected,
    NetworkRegistered,
    NewEvent,
    Payload,
    SignatureWithdrawn,
    refusing_invalid_input,
)
from domain.principal import Principal
from domain.values import (
    LANGUAGES,
    CountryCode,
    IsoDate,
    Language,
    LocalizedTitle,
    NameChanges,
    Reason,
    Slug,
    refuse_personal_data,
)


def network_stream(network_id: str) -> str:
    return f"network:{network_id}"


def city_stream(city_id: str) -> str:
    return f"city:{city_id}"


def declaration_stream(declaration_id: str) -> str:
    return f"declaration:{declaration_id}"


# --- states -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkState:
    network_id: str
    name: dict[Language, str]
    members: frozenset[str]


@dataclass(frozen=True, slots=True)
class CityState:
    city_id: str
    name: dict[Language, str]
    country: str


@dataclass(frozen=True, slots=True)
class DeclarationState:
    """A declaration's stream: its registration (ADR 0014) and its signatures.

    Stores written before declarations were registered on the log hold signatures with no
    registration: ``adopted_on`` is then None until an admin registers the declaration.
    """

    declaration_id: str
    signatories: frozenset[str]
    title: dict[Language, str] | None = None
    adopted_on: date | None = None
    first_signed_on: date | None = None
    """The earliest signature ever recorded (a withdrawn one included)."""
    signed_on: dict[str, date] = field(default_factory=dict)
    """The day each current signatory signed."""

    @property
    def registered(self) -> bool:
        return self.adopted_on is not None


def evolve_network(state: NetworkState | None, payload: Payload) -> NetworkState:
    if isinstance(payload, NetworkRegistered):
        return NetworkState(payload.network_id, dict(payload.name), frozenset())
    if state is None:
        raise InvalidInput("network event before the network was registered", field="type")
    if isinstance(payload, CityJoinedNetwork):
        return replace(state, members=state.members | {payload.city_id})
    if isinstance(payload, CityLeftNetwork):
        return replace(state, members=state.members - {payload.city_id})
    if isinstance(payload, NetworkCorrected):
        return replace(state, name=dict(payload.name))
    raise InvalidInput(f"{type(payload).__name__} does not belong to a network", field="type")


def evolve_city(state: CityState | None, payload: Payload) -> CityState:
    if isinstance(payload, CityRegistered):
        return CityState(payload.city_id, dict(payload.name), payload.country)
    if state is None:
        raise InvalidInput("city event before the city was registered", field="type")
    if isinstance(payload, CityCorrected):
        return CityState(
            state.city_id,
            dict(payload.name) if payload.name is not None else state.name,
            payload.country if payload.country is not None else state.country,
        )
    raise InvalidInput(f"{type(payload).__name__} does not belong to a city", field="type")


def evolve_declaration(state: DeclarationState | None, payload: Payload) -> DeclarationState:
    if isinstance(payload, DeclarationSigned):
        if state is None:
            return DeclarationState(
                payload.declaration_id,
                frozenset({payload.city_id}),
                first_signed_on=payload.signed_on,
                signed_on={payload.city_id: payload.signed_on},
            )
        first = state.first_signed_on
        return replace(
            state,
            signatories=state.signatories | {payload.city_id},
            first_signed_on=payload.signed_on if first is None else min(first, payload.signed_on),
            signed_on={**state.signed_on, payload.city_id: payload.signed_on},
        )
    if isinstance(payload, DeclarationRegistered):
        if state is None:
            return DeclarationState(
                payload.declaration_id,
                frozenset(),
                title=dict(payload.title),
                adopted_on=payload.adopted_on,
            )
        return replace(state, title=dict(payload.title), adopted_on=payload.adopted_on)
    if state is None:
        raise InvalidInput(
            "declaration event before the declaration was signed or registered", field="type"
        )
    if isinstance(payload, SignatureWithdrawn):
        return replace(
            state,
            signatories=state.signatories - {payload.city_id},
            signed_on={c: d for c, d in state.signed_on.items() if c != payload.city_id},
        )
    raise InvalidInput(f"{type(payload).__name__} does not belong to a declaration", field="type")


# --- commands -------------------------------------------------------------------------------------


class RegisterNetwork(Model):
    id: Slug
    name: LocalizedTitle


class RegisterCity(Model):
    id: Slug
    name: LocalizedTitle
    country: CountryCode


class JoinNetwork(Model):
    city_id: Slug


class LeaveNetwork(Model):
    city_id: Slug


class SignDeclaration(Model):
    city_id: Slug
    signed_on: IsoDate


class _FreeTextCommand(Model):
    """A registry command with free text (a reason): it may hold no personal data, since it
    will be public forever (as ``domain.pledge.Command``)."""

    @model_validator(mode="after")
    def _refuse_personal_data(self) -> _FreeTextCommand:
        refuse_personal_data(self)
        return self


class CorrectCity(_FreeTextCommand):
    """Registry fields to correct: names per language (an empty text removes that language's
    name) and the country; at least one of them, and the reason."""

    name: NameChanges | None = None
    country: CountryCode | None = None
    reason: Reason


class CorrectNetwork(_FreeTextCommand):
    """A network's names to correct per language (an empty text removes that language)."""

    name: NameChanges
    reason: Reason


class WithdrawSignature(_FreeTextCommand):
    city_id: Slug
    withdrawn_on: IsoDate
    reason: Reason


# --- decisions ------------------------------------------------------------------------------------


@refusing_invalid_input
def register_network(
    command: RegisterNetwork, existing: NetworkState | None, principal: Principal
) -> list[NewEvent]:
    require_authority(principal, "network.registered", action="register networks")
    if existing is not None:
        raise AlreadyExists(f"network {command.id} is already registered", field="id")
    return [NewEvent(NetworkRegistered(network_id=command.id, name=command.name))]


@refusing_invalid_input
def register_city(
    command: RegisterCity, existing: CityState | None, principal: Principal
) -> list[NewEvent]:
    require_authority(principal, "city.registered", action="register cities")
    if existing is not None:
        raise AlreadyExists(f"city {command.id} is already registered", field="id")
    payload = CityRegistered(city_id=command.id, name=command.name, country=command.country)
    return [NewEvent(payload, on_behalf_of=(command.id,))]


@refusing_invalid_input
def join_network(
    network_id: str,
    command: JoinNetwork,
    network: NetworkState | None,
    city: CityState | None,
    principal: Principal,
) -> list[NewEvent]:
    require_authority(
        principal,
        "network.city_joined",
        action=f"add members to network {network_id}",
        networks=(network_id,),
    )
    if network is None:
        raise NotFound(f"network {network_id} is not registered", field="network_id")
    if city is None:
        raise NotFound(f"city {command.city_id} is not registered", field="city_id")
    if command.city_id in network.members:
        raise AlreadyExists(
            f"city {command.city_id} is already a member of {network_id}", field="city_id"
        )
    payload = CityJoinedNetwork(network_id=network_id, city_id=command.city_id)
    return [NewEvent(payload, on_behalf_of=(command.city_id,))]


@refusing_invalid_input
def leave_network(
    network_id: str, command: LeaveNetwork, network: NetworkState | None, principal: Principal
) -> list[NewEvent]:
    require_authority(
        principal,
        "network.city_left",
        action=f"remove members from network {network_id}",
        networks=(network_id,),
    )
    if network is None:
        raise NotFound(f"network {network_id} is not registered", field="network_id")
    if command.city_id not in network.members:
        raise NotFound(f"city {command.city_id} is not a member of {network_id}", field="city_id")
    payload = CityLeftNetwork(network_id=network_id, city_id=command.city_id)
    return [NewEvent(payload, on_behalf_of=(command.city_id,))]


@refusing_invalid_input
def sign_declaration(
    declaration_id: str,
    command: SignDeclaration,
    declaration: DeclarationState | None,
    city: CityState | None,
    principal_network: NetworkState | None,
    principal: Principal,
    today: date,
) -> list[NewEvent]:
    """A city signs a declaration; a network may record it only for one of its member cities.

    ``principal_network`` is the state of the acting network (None for other roles).
    """
    if declaration is None or declaration.adopted_on is None:
        raise NotFound(
            f"declaration {declaration_id} is not registered (an admin registers it: "
            "POST /api/v1/reference/declarations, or `pledge-ledger reference seed` for "
            "marrakech-2018)",
            field="declaration_id",
        )
    adopted_on = declaration.adopted_on
    member_of = (
        (principal_network.network_id,)
        if principal_network is not None and command.city_id in principal_network.members
        else ()
    )
    require_authority(
        principal,
        "declaration.signed",
        action=f"record a declaration signature for city {command.city_id}",
        networks=member_of,
    )
    if city is None:
        raise NotFound(f"city {command.city_id} is not registered", field="city_id")
    if command.city_id in declaration.signatories:
        raise AlreadyExists(
            f"city {command.city_id} has already signed {declaration_id}", field="city_id"
        )
    if command.signed_on < adopted_on:
        raise InvalidInput(
            f"{declaration_id} was adopted on {adopted_on.isoformat()}", field="signed_on"
        )
    if command.signed_on > today:
        raise InvalidInput("a signature cannot be dated in the future", field="signed_on")
    payload = DeclarationSigned(
        declaration_id=declaration_id, city_id=command.city_id, signed_on=command.signed_on
    )
    return [NewEvent(payload, on_behalf_of=(command.city_id,), occurred_on=command.signed_on)]


def corrected_names(current: dict[Language, str], changes: NameChanges) -> dict[Language, str]:
    """The complete names once ``changes`` are applied, in en/fr/es order (None: no name left)."""
    merged = {**current, **changes}
    names = {lang: merged[lang] for lang in LANGUAGES if merged.get(lang)}
    if not names:
        raise InvalidInput("a correction cannot remove every name", field="name")
    return names


@refusing_invalid_input
def correct_city(
    city_id: str, command: CorrectCity, city: CityState | None, principal: Principal
) -> list[NewEvent]:
    """Correct (or translate) a city's names, or correct its country; refused if it changes
    nothing. Every pledge naming the city counts under the corrected country from then on."""
    require_authority(principal, "city.corrected", action="correct the city registry")
    if city is None:
        raise NotFound(f"city {city_id} is not registered", field="city_id")
    if command.name is None and command.country is None:
        raise InvalidInput("a correction names the name or the country", field="name")
    name = corrected_names(city.name, command.name) if command.name is not None else None
    if name == city.name:
        name = None
    country = command.country if command.country != city.country else None
    if name is None and country is None:
        field = "name" if command.name is not None else "country"
        raise InvalidInput(
            f"city {city_id} already has these names and this country: nothing to correct",
            field=field,
        )
    payload = CityCorrected(city_id=city_id, name=name, country=country, reason=command.reason)
    return [NewEvent(payload, on_behalf_of=(city_id,))]


@refusing_invalid_input
def correct_network(
    network_id: str, command: CorrectNetwork, network: NetworkState | None, principal: Principal
) -> list[NewEvent]:
    """Correct (or translate) a network's names: the admin, or the network itself."""
    require_authority(
        principal,
        "network.corrected",
        action=f"correct the names of network {network_id}",
        networks=(network_id,),
    )
    if network is None:
        raise NotFound(f"network {network_id} is not registered", field="network_id")
    name = corrected_names(network.name, command.name)
    if name == network.name:
        raise InvalidInput(f"network {network_id} already has these names", field="name")
    payload = NetworkCorrected(network_id=network_id, name=name, reason=command.reason)
    return [NewEvent(payload)]


@refusing_invalid_input
def withdraw_signature(
    declaration_id: str,
    command: WithdrawSignature,
    declaration: DeclarationState | None,
    principal_network: NetworkState | None,
    principal: Principal,
    today: date,
) -> list[NewEvent]:
    """A city withdraws its signature; who may record it is who may record a signature."""
    if declaration is None:
        raise NotFound(f"declaration {declaration_id} does not exist", field="declaration_id")
    member_of = (
        (principal_network.network_id,)
        if principal_network is not None and command.city_id in principal_network.members
        else ()
    )
    require_authority(
        principal,
        "declaration.signature_withdrawn",
        action=f"withdraw the declaration signature of city {command.city_id}",
        networks=member_of,
    )
    signed_on = declaration.signed_on.get(command.city_id) if declaration is not None else None
    if signed_on is None:
        raise NotFound(f"city {command.city_id} has not signed {declaration_id}", field="city_id")
    if command.withdrawn_on < signed_on:
        raise InvalidInput(
            f"city {command.city_id} signed on {signed_on.isoformat()}", field="withdrawn_on"
        )
    if command.withdrawn_on > today:
        raise InvalidInput("a withdrawal cannot be dated in the future", field="withdrawn_on")
    payload = SignatureWithdrawn(
        declaration_id=declaration_id,
        city_id=command.city_id,
        withdrawn_on=command.withdrawn_on,
        reason=command.reason,
    )
    return [NewEvent(payload, on_behalf_of=(command.city_id,), occurred_on=command.withdrawn_on)]
