"""API keys in the domain: issuing, revoking, and which principals count as active."""

from __future__ import annotations

import pytest

from domain.errors import AlreadyExists, InvalidInput, NotFound, NotPermitted
from domain.events import KeyIssued, KeyRevoked
from domain.keys import (
    OPERATOR,
    InactiveKey,
    IssueKey,
    KeyState,
    RevokeKey,
    check_active,
    evolve_key,
    issue_key,
    revoke_key,
)
from domain.principal import Principal
from tests.unit.domain_builders import NETWORK_ID, admin, network_key, network_state, validator


def issued(
    key_id: str = "k-1", role: str = "network", network_id: str | None = NETWORK_ID
) -> KeyState:
    return evolve_key(None, KeyIssued(key_id=key_id, role=role, network_id=network_id))  # type: ignore[arg-type]


def revoked(state: KeyState) -> KeyState:
    return evolve_key(state, KeyRevoked(key_id=state.key_id, reason="Retired"))


def test_an_admin_issues_a_network_key_for_a_registered_network() -> None:
    command = IssueKey(key_id="k-1", role="network", network_id=NETWORK_ID, label="Intake")
    (event,) = issue_key(command, None, network_state(), admin())
    assert event.payload == KeyIssued(
        key_id="k-1", role="network", network_id=NETWORK_ID, label="Intake"
    )


def test_the_operator_may_issue_keys() -> None:
    (event,) = issue_key(IssueKey(key_id="k-1", role="admin"), None, None, OPERATOR)
    assert event.type == "apikey.issued"


@pytest.mark.parametrize("principal", [validator(), network_key()], ids=["validator", "network"])
def test_only_an_admin_issues_keys(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        issue_key(IssueKey(key_id="k-1", role="admin"), None, None, principal)


def test_issuing_an_existing_key_id_is_refused() -> None:
    with pytest.raises(AlreadyExists) as caught:
        issue_key(IssueKey(key_id="k-1", role="validator"), issued(), None, admin())
    assert caught.value.field == "key_id"


def test_the_operators_key_id_cannot_be_issued() -> None:
    with pytest.raises(InvalidInput) as caught:
        issue_key(IssueKey(key_id="operator", role="admin"), None, None, admin())
    assert caught.value.field == "key_id"


def test_a_network_key_for_an_unknown_network_is_refused() -> None:
    command = IssueKey(key_id="k-1", role="network", network_id="nowhere")
    with pytest.raises(NotFound) as caught:
        issue_key(command, None, None, admin())
    assert caught.value.field == "network_id"


def test_a_network_key_without_a_network_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        issue_key(IssueKey(key_id="k-1", role="network"), None, None, admin())
    assert caught.value.field == "network_id"


def test_a_validator_key_naming_a_network_is_refused() -> None:
    command = IssueKey(key_id="k-1", role="validator", network_id=NETWORK_ID)
    with pytest.raises(InvalidInput) as caught:
        issue_key(command, None, network_state(), admin())
    assert caught.value.field == "network_id"


def test_a_label_over_100_characters_is_refused_by_the_command() -> None:
    with pytest.raises(ValueError, match="label"):
        IssueKey(key_id="k-1", role="admin", label="x" * 101)


def test_revoking_records_the_reason() -> None:
    (event,) = revoke_key("k-1", RevokeKey(reason="Laptop lost"), issued(), admin())
    assert event.payload == KeyRevoked(key_id="k-1", reason="Laptop lost")


def test_revoking_an_unknown_key_is_refused() -> None:
    with pytest.raises(NotFound):
        revoke_key("k-1", RevokeKey(), None, admin())


def test_revoking_a_revoked_key_is_refused() -> None:
    with pytest.raises(InvalidInput):
        revoke_key("k-1", RevokeKey(), revoked(issued()), admin())


def test_only_an_admin_revokes_keys() -> None:
    with pytest.raises(NotPermitted):
        revoke_key("k-1", RevokeKey(), issued(), network_key())


def test_an_issued_key_is_active() -> None:
    check_active(Principal("k-1", "network", NETWORK_ID), issued())


def test_a_key_never_issued_is_inactive() -> None:
    with pytest.raises(InactiveKey, match="never issued"):
        check_active(Principal("k-1", "admin"), None)


def test_a_revoked_key_is_inactive() -> None:
    with pytest.raises(InactiveKey, match="revoked"):
        check_active(Principal("k-1", "network", NETWORK_ID), revoked(issued()))


def test_a_key_claiming_another_role_than_issued_is_inactive() -> None:
    with pytest.raises(InactiveKey, match="issued as a network key"):
        check_active(Principal("k-1", "admin"), issued())


def test_a_key_claiming_another_network_than_issued_is_inactive() -> None:
    with pytest.raises(InactiveKey):
        check_active(Principal("k-1", "network", "elsewhere"), issued())


def test_the_operator_is_active_without_being_issued() -> None:
    check_active(OPERATOR, None)


def test_the_operators_key_id_with_another_role_is_inactive() -> None:
    with pytest.raises(InactiveKey):
        check_active(Principal("operator", "validator"), None)


def test_a_key_is_not_revoked_before_it_is_issued() -> None:
    with pytest.raises(InvalidInput):
        evolve_key(None, KeyRevoked(key_id="k-1", reason="Retired"))
