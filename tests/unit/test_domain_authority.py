"""The one table of who may record what, shared by the domain and the verifier."""

from __future__ import annotations

import pytest

from domain.authority import EVENT_AUTHORITY, Authority, authority_of, may_record
from domain.errors import NotPermitted
from domain.events import EVENT_SPECS
from domain.keys import OPERATOR
from tests.unit.domain_builders import NETWORK_ID, admin, network_key, validator


def test_every_event_type_has_exactly_one_row() -> None:
    assert set(EVENT_AUTHORITY) == set(EVENT_SPECS)


def test_an_event_type_without_a_row_may_be_recorded_by_no_one() -> None:
    with pytest.raises(NotPermitted):
        authority_of("pledge.teleported")


def test_a_row_letting_network_keys_act_names_their_scope() -> None:
    with pytest.raises(ValueError, match="scope"):
        Authority(frozenset({"network"}))


def test_a_network_key_submits_only_for_its_own_network() -> None:
    assert may_record(network_key(), "pledge.submitted", {NETWORK_ID})
    assert not may_record(network_key(), "pledge.submitted", {"another-network"})


def test_a_validator_may_not_submit_a_pledge() -> None:
    assert not may_record(validator(), "pledge.submitted", {NETWORK_ID})


def test_a_validator_validates_whatever_the_network() -> None:
    assert may_record(validator(), "pledge.validated")


def test_a_network_key_may_not_validate() -> None:
    assert not may_record(network_key(), "pledge.validated", {NETWORK_ID})


def test_an_admin_registers_but_never_writes_a_pledge() -> None:
    assert may_record(admin(), "network.registered")
    assert not may_record(admin(), "pledge.amended", {NETWORK_ID})


def test_only_admins_and_the_operator_issue_keys() -> None:
    assert may_record(OPERATOR, "apikey.issued")
    assert not may_record(validator(), "apikey.issued")
    assert not may_record(network_key(), "apikey.revoked", {NETWORK_ID})
