"""The registry: networks, cities, membership and declarations (states, folds and decisions)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from domain.errors import AlreadyExists, InvalidInput, NotFound, NotPermitted
from domain.events import (
    CityJoinedNetwork,
    CityLeftNetwork,
    CityRegistered,
    DeclarationSigned,
    NetworkRegistered,
    Payload,
    PledgeWithdrawn,
    invalid_input_from,
)
from domain.principal import Principal
from domain.reference import SEED_DECLARATIONS
from domain.registry import (
    DeclarationState,
    JoinNetwork,
    LeaveNetwork,
    RegisterCity,
    RegisterNetwork,
    SignDeclaration,
    city_stream,
    declaration_stream,
    evolve_city,
    evolve_declaration,
    evolve_network,
    join_network,
    leave_network,
    network_stream,
    register_city,
    register_network,
    sign_declaration,
)
from tests.unit.domain_builders import (
    MEMBER_CITY,
    NETWORK_ID,
    OUTSIDER_CITY,
    TODAY,
    admin,
    city_state,
    network_key,
    network_state,
    other_network_key,
    validator,
)

MARRAKECH = "marrakech-2018"
ADOPTED_ON = date(2018, 12, 8)


def test_stream_ids_are_namespaced_by_kind() -> None:
    assert network_stream("cities-for-all") == "network:cities-for-all"
    assert city_stream("rabat") == "city:rabat"
    assert declaration_stream(MARRAKECH) == "declaration:marrakech-2018"


REGISTERED = DeclarationState(MARRAKECH, frozenset(), {"en": "Marrakech"}, ADOPTED_ON)
"""The Marrakech declaration as its stream holds it once registered on the log (ADR 0014)."""


def signed_by(*cities: str) -> DeclarationState:
    return DeclarationState(MARRAKECH, frozenset(cities), {"en": "Marrakech"}, ADOPTED_ON)


def test_marrakech_declaration_was_adopted_on_8_december_2018() -> None:
    [seed] = [d for d in SEED_DECLARATIONS if d.id == MARRAKECH]
    assert seed.adopted_on == ADOPTED_ON


# --- registering networks -------------------------------------------------------------------------


def register_network_command() -> RegisterNetwork:
    return RegisterNetwork(id=NETWORK_ID, name={"en": "Cities for all"})


def test_admin_registers_a_network() -> None:
    [event] = register_network(register_network_command(), None, admin())
    assert event.type == "network.registered"
    assert event.payload == NetworkRegistered(network_id=NETWORK_ID, name={"en": "Cities for all"})


@pytest.mark.parametrize("principal", [network_key(), validator()], ids=["network", "validator"])
def test_only_an_admin_registers_networks(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        register_network(register_network_command(), None, principal)


def test_registering_a_network_twice_is_refused() -> None:
    with pytest.raises(AlreadyExists) as caught:
        register_network(register_network_command(), network_state(), admin())
    assert caught.value.field == "id"


def test_register_network_command_refuses_an_invalid_slug() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterNetwork.model_validate({"id": "Cities For All", "name": {"en": "x"}})
    assert invalid_input_from(caught.value).field == "id"


def test_register_network_command_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterNetwork.model_validate({"id": NETWORK_ID, "name": {"en": "x"}, "email": "a@b"})
    assert invalid_input_from(caught.value).field == "email"


# --- registering cities ---------------------------------------------------------------------------


def register_city_command() -> RegisterCity:
    return RegisterCity(id=MEMBER_CITY, name={"en": "Rabat", "fr": "Rabat"}, country="MA")


def test_admin_registers_a_city_on_its_own_behalf() -> None:
    [event] = register_city(register_city_command(), None, admin())
    assert event.type == "city.registered"
    assert event.on_behalf_of == (MEMBER_CITY,)
    assert isinstance(event.payload, CityRegistered)
    assert event.payload.country == "MA"


@pytest.mark.parametrize("principal", [network_key(), validator()], ids=["network", "validator"])
def test_only_an_admin_registers_cities(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        register_city(register_city_command(), None, principal)


def test_registering_a_city_twice_is_refused() -> None:
    with pytest.raises(AlreadyExists) as caught:
        register_city(register_city_command(), city_state(), admin())
    assert caught.value.field == "id"


# --- membership -----------------------------------------------------------------------------------


def test_admin_adds_a_city_to_a_network() -> None:
    [event] = join_network(
        NETWORK_ID,
        JoinNetwork(city_id=OUTSIDER_CITY),
        network_state(),
        city_state(OUTSIDER_CITY),
        admin(),
    )
    assert event.type == "network.city_joined"
    assert event.payload == CityJoinedNetwork(network_id=NETWORK_ID, city_id=OUTSIDER_CITY)
    assert event.on_behalf_of == (OUTSIDER_CITY,)


def test_a_network_adds_a_city_to_itself() -> None:
    [event] = join_network(
        NETWORK_ID,
        JoinNetwork(city_id=OUTSIDER_CITY),
        network_state(),
        city_state(OUTSIDER_CITY),
        network_key(),
    )
    assert event.payload == CityJoinedNetwork(network_id=NETWORK_ID, city_id=OUTSIDER_CITY)


@pytest.mark.parametrize(
    "principal", [other_network_key(), validator()], ids=["other_network", "validator"]
)
def test_only_an_admin_or_the_network_itself_adds_members(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        join_network(
            NETWORK_ID,
            JoinNetwork(city_id=OUTSIDER_CITY),
            network_state(),
            city_state(OUTSIDER_CITY),
            principal,
        )


def test_joining_an_unregistered_network_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        join_network(
            NETWORK_ID, JoinNetwork(city_id=OUTSIDER_CITY), None, city_state(OUTSIDER_CITY), admin()
        )
    assert caught.value.field == "network_id"


def test_an_unregistered_city_cannot_join() -> None:
    with pytest.raises(NotFound) as caught:
        join_network(NETWORK_ID, JoinNetwork(city_id="atlantis"), network_state(), None, admin())
    assert caught.value.field == "city_id"


def test_joining_twice_is_refused() -> None:
    with pytest.raises(AlreadyExists) as caught:
        join_network(
            NETWORK_ID, JoinNetwork(city_id=MEMBER_CITY), network_state(), city_state(), admin()
        )
    assert caught.value.field == "city_id"


def test_a_member_leaves_a_network() -> None:
    [event] = leave_network(NETWORK_ID, LeaveNetwork(city_id=MEMBER_CITY), network_state(), admin())
    assert event.type == "network.city_left"
    assert event.payload == CityLeftNetwork(network_id=NETWORK_ID, city_id=MEMBER_CITY)
    assert event.on_behalf_of == (MEMBER_CITY,)


def test_a_network_removes_its_own_member() -> None:
    [event] = leave_network(
        NETWORK_ID, LeaveNetwork(city_id=MEMBER_CITY), network_state(), network_key()
    )
    assert event.type == "network.city_left"


def test_leaving_when_not_a_member_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        leave_network(NETWORK_ID, LeaveNetwork(city_id=OUTSIDER_CITY), network_state(), admin())
    assert caught.value.field == "city_id"


def test_leaving_an_unregistered_network_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        leave_network(NETWORK_ID, LeaveNetwork(city_id=MEMBER_CITY), None, admin())
    assert caught.value.field == "network_id"


@pytest.mark.parametrize(
    "principal", [other_network_key(), validator()], ids=["other_network", "validator"]
)
def test_only_an_admin_or_the_network_itself_removes_members(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        leave_network(NETWORK_ID, LeaveNetwork(city_id=MEMBER_CITY), network_state(), principal)


# --- folding registry streams ---------------------------------------------------------------------


def test_a_registered_network_starts_without_members() -> None:
    state = evolve_network(None, NetworkRegistered(network_id=NETWORK_ID, name={"en": "C"}))
    assert state.network_id == NETWORK_ID
    assert state.members == frozenset()


def test_joining_and_leaving_fold_into_membership() -> None:
    state = evolve_network(None, NetworkRegistered(network_id=NETWORK_ID, name={"en": "C"}))
    state = evolve_network(state, CityJoinedNetwork(network_id=NETWORK_ID, city_id="rabat"))
    state = evolve_network(state, CityJoinedNetwork(network_id=NETWORK_ID, city_id="lima"))
    state = evolve_network(state, CityLeftNetwork(network_id=NETWORK_ID, city_id="rabat"))
    assert state.members == frozenset({"lima"})


def test_network_event_before_registration_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        evolve_network(None, CityJoinedNetwork(network_id=NETWORK_ID, city_id="rabat"))
    assert caught.value.field == "type"


@pytest.mark.parametrize(
    "payload",
    [
        CityRegistered(city_id="rabat", name={"en": "Rabat"}, country="MA"),
        DeclarationSigned(declaration_id=MARRAKECH, city_id="rabat", signed_on=ADOPTED_ON),
        PledgeWithdrawn(reason="no"),
    ],
    ids=["city", "declaration", "pledge"],
)
def test_network_stream_refuses_events_of_other_kinds(payload: Payload) -> None:
    with pytest.raises(InvalidInput) as caught:
        evolve_network(network_state(), payload)
    assert caught.value.field == "type"


def test_a_registered_city_folds_into_its_state() -> None:
    state = evolve_city(None, CityRegistered(city_id="rabat", name={"en": "Rabat"}, country="MA"))
    assert (state.city_id, state.name, state.country) == ("rabat", {"en": "Rabat"}, "MA")


@pytest.mark.parametrize(
    "payload",
    [
        NetworkRegistered(network_id=NETWORK_ID, name={"en": "C"}),
        CityJoinedNetwork(network_id=NETWORK_ID, city_id="rabat"),
        DeclarationSigned(declaration_id=MARRAKECH, city_id="rabat", signed_on=ADOPTED_ON),
    ],
    ids=["network", "membership", "declaration"],
)
def test_city_stream_refuses_events_of_other_kinds(payload: Payload) -> None:
    with pytest.raises(InvalidInput) as caught:
        evolve_city(city_state(), payload)
    assert caught.value.field == "type"


def test_signatures_accumulate_in_the_declaration_state() -> None:
    state = evolve_declaration(
        None, DeclarationSigned(declaration_id=MARRAKECH, city_id="rabat", signed_on=ADOPTED_ON)
    )
    state = evolve_declaration(
        state,
        DeclarationSigned(declaration_id=MARRAKECH, city_id="lima", signed_on=date(2019, 1, 1)),
    )
    assert state == DeclarationState(
        MARRAKECH,
        frozenset({"rabat", "lima"}),
        first_signed_on=ADOPTED_ON,
        signed_on={"rabat": ADOPTED_ON, "lima": date(2019, 1, 1)},
    )


@pytest.mark.parametrize(
    "payload",
    [
        NetworkRegistered(network_id=NETWORK_ID, name={"en": "C"}),
        CityRegistered(city_id="rabat", name={"en": "Rabat"}, country="MA"),
    ],
    ids=["network", "city"],
)
def test_declaration_stream_refuses_events_of_other_kinds(payload: Payload) -> None:
    with pytest.raises(InvalidInput) as caught:
        evolve_declaration(None, payload)
    assert caught.value.field == "type"


# --- declarations ---------------------------------------------------------------------------------


def sign(
    *,
    declaration_id: str = MARRAKECH,
    city_id: str = MEMBER_CITY,
    signed_on: date = date(2019, 3, 1),
    declaration: DeclarationState | None = REGISTERED,
    registered: bool = True,
    principal: Principal | None = None,
) -> list[DeclarationSigned]:
    principal = principal or admin()
    acting = network_state(principal.network_id) if principal.network_id else None
    events = sign_declaration(
        declaration_id,
        SignDeclaration(city_id=city_id, signed_on=signed_on),
        declaration,
        city_state(city_id) if registered else None,
        acting,
        principal,
        TODAY,
    )
    payloads = [e.payload for e in events]
    assert all(isinstance(p, DeclarationSigned) for p in payloads)
    return [p for p in payloads if isinstance(p, DeclarationSigned)]


def test_admin_records_a_signature_for_a_registered_city() -> None:
    events = sign_declaration(
        MARRAKECH,
        SignDeclaration(city_id=OUTSIDER_CITY, signed_on=date(2019, 3, 1)),
        REGISTERED,
        city_state(OUTSIDER_CITY),
        None,
        admin(),
        TODAY,
    )
    [event] = events
    assert event.type == "declaration.signed"
    assert event.on_behalf_of == (OUTSIDER_CITY,)
    assert event.occurred_on == date(2019, 3, 1)
    assert event.payload == DeclarationSigned(
        declaration_id=MARRAKECH, city_id=OUTSIDER_CITY, signed_on=date(2019, 3, 1)
    )


def test_a_network_records_a_signature_for_a_member_city() -> None:
    [payload] = sign(principal=network_key())
    assert payload.city_id == MEMBER_CITY


def test_a_network_signing_for_a_non_member_city_is_refused() -> None:
    with pytest.raises(NotPermitted):
        sign(city_id=OUTSIDER_CITY, principal=network_key())


def test_a_network_whose_state_is_unknown_may_not_record_signatures() -> None:
    with pytest.raises(NotPermitted):
        sign_declaration(
            MARRAKECH,
            SignDeclaration(city_id=MEMBER_CITY, signed_on=date(2019, 3, 1)),
            REGISTERED,
            city_state(),
            None,
            network_key(),
            TODAY,
        )


def test_a_validator_may_not_record_signatures() -> None:
    with pytest.raises(NotPermitted):
        sign(principal=validator())


def test_an_unknown_declaration_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        sign(declaration_id="paris-2015", declaration=None)
    assert caught.value.field == "declaration_id"


def test_an_unregistered_city_cannot_sign() -> None:
    with pytest.raises(NotFound) as caught:
        sign(registered=False)
    assert caught.value.field == "city_id"


def test_signing_before_the_declaration_was_adopted_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        sign(signed_on=ADOPTED_ON - timedelta(days=1))
    assert caught.value.field == "signed_on"


def test_signing_on_the_day_of_adoption_is_accepted() -> None:
    [payload] = sign(signed_on=ADOPTED_ON)
    assert payload.signed_on == ADOPTED_ON


def test_signing_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        sign(signed_on=TODAY + timedelta(days=1))
    assert caught.value.field == "signed_on"


def test_signing_today_is_accepted() -> None:
    [payload] = sign(signed_on=TODAY)
    assert payload.signed_on == TODAY


def test_signing_twice_is_refused() -> None:
    with pytest.raises(AlreadyExists) as caught:
        sign(declaration=signed_by(MEMBER_CITY))
    assert caught.value.field == "city_id"


def test_another_city_may_sign_after_the_first() -> None:
    [payload] = sign(city_id=OUTSIDER_CITY, declaration=signed_by(MEMBER_CITY))
    assert payload.city_id == OUTSIDER_CITY


def test_sign_declaration_command_refuses_a_malformed_date() -> None:
    with pytest.raises(ValidationError) as caught:
        SignDeclaration.model_validate({"city_id": MEMBER_CITY, "signed_on": "8/12/2018"})
    assert invalid_input_from(caught.value).field == "signed_on"
