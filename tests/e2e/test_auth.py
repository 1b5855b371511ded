"""Bearer keys over HTTP, through ``create_app``: 401 without or with a bad key, 403 outside
the key's scope, 429 once an address fails too often, and a revoked key refused at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Authenticator, AuthFailureLimiter, PrincipalDep
from api.bootstrap import Services, bootstrap
from api.problems import PROBLEM_JSON
from domain.keys import OPERATOR
from ledger.api_keys import IssuedKey, KeySecrets, issue_key, revoke_key
from ledger.settings import LedgerSettings
from tests.integration.ledger_scenario import event_count, register_basics


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def app_with_a_write_route(services: Services, limiter: AuthFailureLimiter) -> FastAPI:
    """The real app plus one route that registers a network as the caller (the write routes
    themselves are built on another branch; they take ``PrincipalDep`` the same way)."""
    app = create_app(services=services)
    app.state.authenticator = Authenticator(services, limiter)

    @app.post("/test/networks/{network_id}")
    def register(network_id: str, principal: PrincipalDep) -> dict[str, str]:
        body = {"id": network_id, "name": {"en": network_id}}
        services.ledger.write("register_network", principal, body)
        return {"key_id": principal.key_id}

    return app


@pytest.fixture
def limiter_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(services: Services, limiter_clock: FakeClock) -> Iterator[TestClient]:
    register_basics(services)
    limiter = AuthFailureLimiter(burst=3, refill_seconds=10, clock=limiter_clock)
    with TestClient(app_with_a_write_route(services, limiter)) as test_client:
        yield test_client


def issued(services: Services, role: str, network_id: str | None = None) -> IssuedKey:
    secrets = KeySecrets(services.engine, services.ledger.clock)
    return issue_key(services.ledger, secrets, OPERATOR, role=role, network_id=network_id)  # type: ignore[arg-type]


def bearer(key: IssuedKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.token}"}


def test_an_admin_key_writes(client: TestClient, services: Services) -> None:
    admin = issued(services, "admin")
    response = client.post("/test/networks/new-network", headers=bearer(admin))
    assert (response.status_code, response.json()) == (200, {"key_id": admin.key_id})


def test_a_request_without_a_key_gets_401_with_a_bearer_challenge(
    client: TestClient, services: Services
) -> None:
    before = event_count(services)
    response = client.post("/test/networks/new-network")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "unauthenticated"
    assert event_count(services) == before


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-key", "Bearer plk_k-1_" + "A" * 43],
    ids=["basic", "no-token", "malformed", "unknown"],
)
def test_a_bad_key_gets_401(client: TestClient, services: Services, authorization: str) -> None:
    before = event_count(services)
    response = client.post("/test/networks/new-network", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert event_count(services) == before


def test_a_wrong_secret_of_a_real_key_gets_401(client: TestClient, services: Services) -> None:
    admin = issued(services, "admin")
    token = admin.token[:-2] + ("AA" if not admin.token.endswith("AA") else "BB")
    response = client.post(
        "/test/networks/new-network", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


def test_a_key_outside_its_scope_gets_403_and_nothing_is_stored(
    client: TestClient, services: Services
) -> None:
    validator = issued(services, "validator")
    before = event_count(services)
    response = client.post("/test/networks/new-network", headers=bearer(validator))
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted"
    assert event_count(services) == before


def test_a_revoked_key_is_refused_on_its_next_request(
    client: TestClient, services: Services
) -> None:
    admin = issued(services, "admin")
    assert client.post("/test/networks/first", headers=bearer(admin)).status_code == 200

    revoke_key(services.ledger, OPERATOR, admin.key_id, "Leaked")
    response = client.post("/test/networks/second", headers=bearer(admin))

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_repeated_failures_from_one_address_get_429_with_retry_after(
    client: TestClient, services: Services, limiter_clock: FakeClock
) -> None:
    admin = issued(services, "admin")
    wrong = {"Authorization": "Bearer plk_k-1_" + "A" * 43}
    for _ in range(3):
        assert client.post("/test/networks/x1", headers=wrong).status_code == 401

    refused = client.post("/test/networks/x2", headers=bearer(admin))

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"
    limiter_clock.now += 10
    assert client.post("/test/networks/x3", headers=bearer(admin)).status_code == 200


def test_a_key_revoked_by_another_process_is_refused_on_its_next_write_and_nothing_is_stored(
    client: TestClient, services: Services, settings: LedgerSettings
) -> None:
    admin = issued(services, "admin")
    assert client.post("/test/networks/first", headers=bearer(admin)).status_code == 200
    with bootstrap(settings) as other_process:  # its own ledger and stream cache
        revoke_key(other_process.ledger, OPERATOR, admin.key_id, "Leaked")
    before = services.store.max_notification_id()

    response = client.post("/test/networks/second", headers=bearer(admin))

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert services.store.max_notification_id() == before
