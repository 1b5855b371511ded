"""API keys through the ledger, on SQLite and PostgreSQL: issued and revoked on the log, the
secret kept only as a hash, and every command's principal checked by the ledger itself."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from api.bootstrap import Services, bootstrap
from domain.errors import NotFound, NotPermitted
from domain.keys import OPERATOR, InactiveKey
from domain.principal import Principal
from ledger.api_keys import (
    KeyRejected,
    KeySecrets,
    authenticate,
    issue_key,
    key_history,
    parse_token,
    revoke_key,
)
from ledger.database import api_key_secrets
from ledger.settings import LedgerSettings
from tests.integration.ledger_scenario import (
    UCLG,
    event_count,
    issue_keys,
    pledge_body,
    register_basics,
)


def secrets_of(services: Services) -> KeySecrets:
    return KeySecrets(services.engine, services.ledger.clock)


def test_an_issued_key_authenticates_as_its_principal(services: Services) -> None:
    register_basics(services)
    issued = issue_key(
        services.ledger, secrets_of(services), OPERATOR, role="network", network_id="uclg"
    )

    principal = authenticate(services.ledger, secrets_of(services), issued.token)

    assert principal == Principal(issued.key_id, "network", "uclg")


def test_the_log_and_the_store_hold_the_secrets_hash_never_the_secret(services: Services) -> None:
    issued = issue_key(services.ledger, secrets_of(services), OPERATOR, role="validator")
    _, secret = parse_token(issued.token)
    encoded = issued.token.removeprefix(f"plk_{issued.key_id}_")  # base64url may hold "_"
    assert len(encoded) > 20

    entries = b"\n".join(services.log.entries(services.log.tree_size()))
    with services.engine.connect() as connection:
        stored = connection.execute(select(api_key_secrets.c.sha256)).scalar_one()

    assert issued.key_id.encode() in entries
    assert secret not in entries
    assert encoded.encode() not in entries
    assert bytes(stored) == hashlib.sha256(secret).digest()


def test_a_wrong_secret_is_rejected(services: Services) -> None:
    issued = issue_key(services.ledger, secrets_of(services), OPERATOR, role="validator")
    forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")

    with pytest.raises(KeyRejected):
        authenticate(services.ledger, secrets_of(services), forged)


def test_a_key_on_the_log_without_a_secret_cannot_authenticate(services: Services) -> None:
    with services.ledger.batch() as batch:
        issue_keys(batch, Principal("demo-admin", "admin"))
    token = "plk_demo-admin_" + "A" * 43

    with pytest.raises(KeyRejected):
        authenticate(services.ledger, secrets_of(services), token)


def test_a_revoked_key_is_refused_on_its_next_request(services: Services) -> None:
    issued = issue_key(services.ledger, secrets_of(services), OPERATOR, role="validator")
    authenticate(services.ledger, secrets_of(services), issued.token)

    revoke_key(services.ledger, OPERATOR, issued.key_id, "Laptop lost")

    with pytest.raises(InactiveKey, match="revoked"):
        authenticate(services.ledger, secrets_of(services), issued.token)


def test_a_revocation_by_another_process_is_seen_on_the_next_request(
    services: Services, settings: LedgerSettings
) -> None:
    issued = issue_key(services.ledger, secrets_of(services), OPERATOR, role="validator")
    authenticate(services.ledger, secrets_of(services), issued.token)  # cached as active

    with bootstrap(settings) as other_process:
        revoke_key(other_process.ledger, OPERATOR, issued.key_id)

    with pytest.raises(InactiveKey, match="revoked"):
        authenticate(services.ledger, secrets_of(services), issued.token)


def test_a_refused_issue_stores_neither_an_event_nor_a_secret(services: Services) -> None:
    before = event_count(services)

    with pytest.raises(NotFound) as caught:
        issue_key(services.ledger, secrets_of(services), OPERATOR, role="network", network_id="x1")

    assert caught.value.field == "network_id"
    assert event_count(services) == before
    with services.engine.connect() as connection:
        assert connection.execute(select(api_key_secrets)).first() is None


def test_the_ledger_refuses_a_principal_whose_key_was_never_issued(services: Services) -> None:
    register_basics(services)
    before = event_count(services)
    stranger = Principal("stranger", "network", "uclg")

    with pytest.raises(InactiveKey, match="never issued"):
        services.ledger.write("submit_pledge", stranger, pledge_body())

    assert event_count(services) == before


def test_the_ledger_refuses_a_revoked_principal_at_once(services: Services) -> None:
    register_basics(services)
    revoke_key(services.ledger, OPERATOR, UCLG.key_id)
    before = event_count(services)

    with pytest.raises(InactiveKey, match="revoked"):
        services.ledger.write("submit_pledge", UCLG, pledge_body())

    assert event_count(services) == before


def test_the_ledger_refuses_a_principal_claiming_another_network(services: Services) -> None:
    register_basics(services)
    before = event_count(services)
    claimed = Principal(UCLG.key_id, "network", "metropolis")

    with pytest.raises(InactiveKey):
        services.ledger.write("submit_pledge", claimed, pledge_body(network_id="metropolis"))

    assert event_count(services) == before


def test_a_network_key_may_not_issue_keys(services: Services) -> None:
    register_basics(services)
    before = event_count(services)

    with pytest.raises(NotPermitted):
        issue_key(services.ledger, secrets_of(services), UCLG, role="admin")

    assert event_count(services) == before


def test_key_history_lists_issue_and_revocation_without_secrets(services: Services) -> None:
    issued = issue_key(services.ledger, secrets_of(services), OPERATOR, role="admin", label="ops")
    revoke_key(services.ledger, OPERATOR, issued.key_id, "Rotated")

    (record,) = key_history(services.store, services.engine)

    assert (record.key_id, record.role, record.label) == (issued.key_id, "admin", "ops")
    assert record.issued_by == "operator"
    assert record.revoked_at is not None
    assert record.revocation_reason == "Rotated"
    assert issued.token not in repr(record)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "Bearer",
        "plk_",
        "plk_k-1",
        "plk_K_1_" + "A" * 43,
        "plk_k-1_" + "A" * 42,
        "plk_k-1_" + "*" * 43,
        "xyz_k-1_" + "A" * 43,
        "plk_k-1_" + "A" * 42 + "B",  # non-zero padding bits: not the canonical encoding
    ],
)
def test_a_malformed_token_is_rejected_before_any_lookup(token: str) -> None:
    with pytest.raises(KeyRejected):
        parse_token(token)


def test_a_wrong_secret_is_refused_after_the_right_one_was_accepted(services: Services) -> None:
    secrets = secrets_of(services)
    issued = issue_key(services.ledger, secrets, OPERATOR, role="validator")
    key_id, secret = parse_token(issued.token)
    assert secrets.matches(key_id, secret)  # the stored hash is now known to this process

    assert not secrets.matches(key_id, bytes(len(secret)))
    assert not secrets.matches("k-0000000000000000", secret)


def test_a_revocation_by_another_process_counts_although_the_secret_was_known(
    services: Services, settings: LedgerSettings
) -> None:
    secrets = secrets_of(services)
    issued = issue_key(services.ledger, secrets, OPERATOR, role="validator")
    authenticate(services.ledger, secrets, issued.token)
    with bootstrap(settings) as other:
        revoke_key(other.ledger, OPERATOR, issued.key_id)

    with pytest.raises(InactiveKey):
        authenticate(services.ledger, secrets, issued.token)
