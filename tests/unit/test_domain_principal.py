"""The principal behind every command: its invariants and the permission questions it answers."""

from __future__ import annotations

import dataclasses

import pytest

from domain.errors import InvalidInput, NotPermitted
from domain.principal import ROLES, Principal, Role


def test_roles_are_admin_network_and_validator() -> None:
    assert ROLES == ("admin", "network", "validator")


def test_network_principal_names_its_network() -> None:
    principal = Principal(key_id="k1", role="network", network_id="cities-for-all")
    assert principal.network_id == "cities-for-all"


def test_network_principal_without_network_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        Principal(key_id="k1", role="network")
    assert caught.value.field == "network_id"


@pytest.mark.parametrize("role", ["admin", "validator"])
def test_only_a_network_principal_names_a_network(role: Role) -> None:
    with pytest.raises(InvalidInput) as caught:
        Principal(key_id="k1", role=role, network_id="cities-for-all")
    assert caught.value.field == "network_id"


def test_principal_without_key_id_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        Principal(key_id="", role="admin")
    assert caught.value.field == "key_id"


def test_principal_with_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        Principal(key_id="k1", role="owner")  # type: ignore[arg-type]
    assert caught.value.field == "role"


def test_network_principal_with_empty_network_id_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Principal(key_id="k1", role="network", network_id="")


def test_principal_is_immutable() -> None:
    principal = Principal(key_id="k1", role="admin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.role = "validator"  # type: ignore[misc]


def test_require_role_accepts_a_listed_role() -> None:
    Principal(key_id="k1", role="validator").require_role("admin", "validator", action="vet")


def test_require_role_refuses_an_unlisted_role_and_names_key_and_action() -> None:
    with pytest.raises(NotPermitted, match="validator key k1 may not register cities"):
        Principal(key_id="k1", role="validator").require_role("admin", action="register cities")


def test_network_principal_acts_for_its_own_network_only() -> None:
    principal = Principal(key_id="k1", role="network", network_id="cities-for-all")
    assert principal.acts_for_network("cities-for-all")
    assert not principal.acts_for_network("mayors-mechanism")


@pytest.mark.parametrize("role", ["admin", "validator"])
def test_other_roles_act_for_no_network(role: Role) -> None:
    principal = Principal(key_id="k1", role=role)
    assert not principal.acts_for_network("cities-for-all")
