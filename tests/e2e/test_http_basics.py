"""The HTTP app's frame: health, readiness, problem+json for every error, the body size limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import MAX_BODY_BYTES, create_app
from api.bootstrap import Services
from api.problems import PROBLEM_JSON, STATUS_BY_CODE, status_of
from tests.unit.test_error_tree import ERRORS


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_on_an_empty_integrated_store(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "store_head": 0, "log_size": 0}


def test_an_unknown_path_is_a_problem_not_a_page(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == "urn:pledge-ledger:problem:not_found"
    assert (body["status"], body["title"]) == (404, "Not found")


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/healthz",
        content=b"{" + b" " * MAX_BODY_BYTES + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_every_error_code_of_every_layer_has_its_own_http_status(
    error: type[BaseException],
) -> None:
    code = getattr(error, "code", None)
    assert code in STATUS_BY_CODE, f"{error.__name__} ({code}) has no HTTP status"


def test_a_client_error_maps_to_4xx_and_an_alarm_to_5xx() -> None:
    from domain.errors import InvalidInput, NotPermitted
    from ledger.errors import ConcurrencyConflict, StoreUnavailable

    assert status_of(InvalidInput("x"))[0] == 422
    assert status_of(NotPermitted("x"))[0] == 403
    assert status_of(ConcurrencyConflict("x", stream_id="s", expected=1, actual=2))[0] == 409
    assert status_of(StoreUnavailable("x"))[0] == 503


def test_a_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 64 × 16 KiB: four times the limit, in a body with no length
            yield b" " * 16 * 1024

    response = client.post(
        "/api/v1/networks", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_malformed_content_length_is_a_400(client: TestClient) -> None:
    response = client.post("/api/v1/networks", content=b"{}", headers={"content-length": "ten"})
    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")


def test_an_error_no_layer_translated_is_a_500_problem_without_its_details(
    services: Services,
) -> None:
    app = create_app(services=services)

    @app.get("/test/broken")
    def broken() -> None:
        raise RuntimeError("table secret_table at /srv/private failed")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/test/broken")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "internal_error"
    assert "secret_table" not in response.text
