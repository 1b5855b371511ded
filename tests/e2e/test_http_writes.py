"""The write endpoints through ``create_app``: 201 with a receipt that verifies, idempotent
retries, If-Match, and every kind of bad input refused with problem+json naming the field while
nothing is stored. Run against every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import EllipsisType
from typing import Any

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import MAX_BODY_BYTES, create_app
from api.bootstrap import Services
from api.problems import PROBLEM_JSON
from tests.e2e.http_writing import acting_by_header, as_, check_receipt, register_over_http, stored
from tests.integration.ledger_scenario import pledge_body


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(acting_by_header(create_app(services=services))) as test_client:
        yield test_client


@pytest.fixture
def registered(services: Services, client: TestClient) -> TestClient:
    register_over_http(client.post, services)
    return client


def verified(services: Services, response: httpx.Response | httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    check_receipt(body["receipt"], services.log.signer.verifier, services.settings.log_origin)
    return body


def submit(client: TestClient, **overrides: Any) -> str:
    response = client.post("/api/v1/pledges", json=pledge_body(**overrides), headers=as_("uclg"))
    assert response.status_code == 201, response.text
    pledge_id: str = response.json()["pledge_id"]
    return pledge_id


def refused(
    services: Services,
    client: TestClient,
    path: str,
    *,
    status: int,
    field: str | EllipsisType | None,
    acting: str = "uclg",
    headers: dict[str, str] | None = None,
    **request: Any,
) -> dict[str, Any]:
    """POST, expect the problem naming ``field`` (``...``: any), and check nothing was stored."""
    before = stored(services)
    response = client.post(path, headers={**as_(acting), **(headers or {})}, **request)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    if field is not ...:
        assert body.get("field") == field
    assert stored(services) == before
    return body


# --- 201 with a receipt ---------------------------------------------------------------------------


def test_every_write_endpoint_answers_201_with_a_receipt_that_verifies(
    services: Services, registered: TestClient
) -> None:
    client = registered
    verified(
        services,
        client.post(
            "/api/v1/reference/declarations",
            json={
                "id": "marrakech-2018",
                "title": {"en": "Marrakech Mayors Declaration"},
                "adopted_on": "2018-12-08",
            },
            headers=as_("admin"),
        ),
    )
    signature = client.post(
        "/api/v1/declarations/marrakech-2018/signatures",
        json={"city_id": "ma-marrakech", "signed_on": "2018-12-08"},
        headers=as_("uclg"),
    )
    verified(services, signature)
    created = verified(
        services,
        client.post("/api/v1/pledges", json=pledge_body(), headers=as_("uclg")),
    )
    pledge = f"/api/v1/pledges/{created['pledge_id']}"
    writes = [
        ("amendments", "uclg", {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"}),
        ("validations", "validator", {"decision": "validated", "criteria": ["specific"]}),
        (
            "progress",
            "uclg",
            {
                "period": {"start": "2026-01-01", "end": "2026-02-28"},
                "stage": "in_progress",
                "observations": [
                    {"indicator_id": "people-served", "value": "1200", "date": "2026-02-28"}
                ],
                "narrative": {"en": "Centre opened."},
            },
        ),
        ("matches", "uclg", {"kind": "funder", "funder": "A city foundation"}),
        (
            "errata",
            "validator",
            {"corrects_event_id": created["receipt"]["event_id"], "note": "Typo in the title"},
        ),
        ("closure", "uclg", {"outcome": "fulfilled", "note": "Done"}),
    ]
    for path, acting, body in writes:
        answer = verified(services, client.post(f"{pledge}/{path}", json=body, headers=as_(acting)))
        assert answer["pledge_id"] == created["pledge_id"], path
    other = submit(client)
    verified(
        services,
        client.post(
            f"/api/v1/pledges/{other}/withdrawal", json={"reason": "Merged"}, headers=as_("uclg")
        ),
    )


def test_a_submitted_pledge_answers_its_id_and_location(
    services: Services, registered: TestClient
) -> None:
    response = registered.post("/api/v1/pledges", json=pledge_body(), headers=as_("uclg"))
    body = verified(services, response)
    assert response.headers["location"] == f"/api/v1/pledges/{body['pledge_id']}"
    assert body["receipt"]["stream_id"] == f"pledge:{body['pledge_id']}"
    assert body["receipt"]["stream_version"] == 1


# --- Idempotency-Key and If-Match -----------------------------------------------------------------


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_stores_nothing(
    services: Services, registered: TestClient
) -> None:
    headers = {**as_("uclg"), "Idempotency-Key": "submit-1"}
    first = registered.post("/api/v1/pledges", json=pledge_body(), headers=headers)
    before = stored(services)

    again = registered.post("/api/v1/pledges", json=pledge_body(), headers=headers)

    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert stored(services) == before


def test_an_idempotency_key_reused_for_another_body_is_refused_naming_the_header(
    services: Services, registered: TestClient
) -> None:
    headers = {"Idempotency-Key": "submit-1"}
    registered.post("/api/v1/pledges", json=pledge_body(), headers={**as_("uclg"), **headers})
    body = refused(
        services,
        registered,
        "/api/v1/pledges",
        status=422,
        field="Idempotency-Key",
        headers=headers,
        json=pledge_body(title={"en": "Another pledge"}),
    )
    assert body["code"] == "idempotency_key_reused"


def test_an_overlong_idempotency_key_is_refused_naming_the_header(
    services: Services, registered: TestClient
) -> None:
    refused(
        services,
        registered,
        "/api/v1/pledges",
        status=422,
        field="Idempotency-Key",
        headers={"Idempotency-Key": "k" * 257},
        json=pledge_body(),
    )


def test_a_current_if_match_is_accepted(services: Services, registered: TestClient) -> None:
    pledge_id = submit(registered)
    response = registered.post(
        f"/api/v1/pledges/{pledge_id}/amendments",
        json={"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"},
        headers={**as_("uclg"), "If-Match": '"1"'},
    )
    assert verified(services, response)["receipt"]["stream_version"] == 2


def test_a_stale_if_match_gets_409_naming_the_header_and_stores_nothing(
    services: Services, registered: TestClient
) -> None:
    pledge_id = submit(registered)
    body = refused(
        services,
        registered,
        f"/api/v1/pledges/{pledge_id}/amendments",
        status=409,
        field="If-Match",
        headers={"If-Match": "3"},
        json={"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"},
    )
    assert body["code"] == "concurrency_conflict"


def test_a_malformed_if_match_is_a_400_naming_the_header(
    services: Services, registered: TestClient
) -> None:
    pledge_id = submit(registered)
    refused(
        services,
        registered,
        f"/api/v1/pledges/{pledge_id}/amendments",
        status=400,
        field="If-Match",
        headers={"If-Match": "version-one"},
        json={"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"},
    )


# --- bad input: each refused with problem+json, nothing stored -----------------------------------


def test_malformed_json_is_a_400_and_stores_nothing(
    services: Services, registered: TestClient
) -> None:
    body = refused(
        services,
        registered,
        "/api/v1/pledges",
        status=400,
        field=None,  # bad JSON has no field at fault; the detail says where it breaks off
        content=b'{"network_id": "uclg",',
        headers={"content-type": "application/json"},
    )
    assert body["code"] == "malformed_request"
    assert "at character" in body["detail"]


def test_a_body_that_is_not_an_object_is_a_400(services: Services, registered: TestClient) -> None:
    refused(
        services, registered, "/api/v1/networks", status=400, field=None, acting="admin", json=[1]
    )


def test_a_wrong_type_is_refused_naming_the_field(
    services: Services, registered: TestClient
) -> None:
    refused(
        services,
        registered,
        "/api/v1/pledges",
        status=422,
        field="gcm_objectives.0",
        json=pledge_body(gcm_objectives=["fifteen"]),
    )


def test_an_unknown_field_is_refused_naming_it(services: Services, registered: TestClient) -> None:
    refused(
        services,
        registered,
        "/api/v1/pledges",
        status=422,
        field="budget",
        json=pledge_body(budget="1000000"),
    )


def test_a_missing_field_is_refused_naming_it(services: Services, registered: TestClient) -> None:
    body = pledge_body()
    del body["title"]
    refused(services, registered, "/api/v1/pledges", status=422, field="title", json=body)


def test_a_body_over_the_size_limit_is_refused_and_stores_nothing(
    services: Services, registered: TestClient
) -> None:
    padded = pledge_body(description={"en": "x" * (MAX_BODY_BYTES + 1)})
    body = refused(services, registered, "/api/v1/pledges", status=413, field=None, json=padded)
    assert body["code"] == "payload_too_large"


def test_an_unknown_taxonomy_code_is_refused_naming_the_field(
    services: Services, registered: TestClient
) -> None:
    body = refused(
        services,
        registered,
        "/api/v1/pledges",
        status=422,
        field="gcm_objectives",
        json=pledge_body(gcm_objectives=[99]),
    )
    assert body["code"] == "unknown_taxonomy_code"


def test_personal_data_in_free_text_is_refused_naming_the_field(
    services: Services, registered: TestClient
) -> None:
    body = refused(
        services,
        registered,
        "/api/v1/pledges",
        status=422,
        field="description.en",
        json=pledge_body(description={"en": "Write to jane.doe@example.org for help."}),
    )
    assert body["code"] == "personal_data"


def test_an_invalid_transition_is_a_409_and_stores_nothing(
    services: Services, registered: TestClient
) -> None:
    pledge_id = submit(registered)
    registered.post(
        f"/api/v1/pledges/{pledge_id}/withdrawal", json={"reason": "Merged"}, headers=as_("uclg")
    )
    body = refused(
        services,
        registered,
        f"/api/v1/pledges/{pledge_id}/amendments",
        status=409,
        field=None,
        json={"changes": {"ends_on": "2029-06-30"}, "reason": "Too late"},
    )
    assert body["code"] == "invalid_transition"


def test_a_city_that_is_not_a_member_is_refused_naming_the_cities(
    services: Services, registered: TestClient
) -> None:
    refused(
        services,
        registered,
        "/api/v1/pledges",
        status=403,
        field="cities",
        json=pledge_body(cities=["sn-dakar"]),
    )


def test_an_unknown_pledge_is_a_404(services: Services, registered: TestClient) -> None:
    refused(
        services,
        registered,
        "/api/v1/pledges/7a0b7f5e-0000-4000-8000-000000000000/withdrawal",
        status=404,
        field="pledge_id",
        json={"reason": "Merged"},
    )


def test_an_unknown_city_is_a_404_naming_it(services: Services, registered: TestClient) -> None:
    refused(
        services,
        registered,
        "/api/v1/networks/uclg/members",
        status=404,
        field="city_id",
        acting="admin",
        json={"city_id": "xx-nowhere"},
    )


def test_an_unknown_network_is_a_404_naming_it(services: Services, registered: TestClient) -> None:
    refused(
        services,
        registered,
        "/api/v1/networks/nowhere/members",
        status=404,
        field="network_id",
        acting="admin",
        json={"city_id": "ma-marrakech"},
    )


def test_a_write_without_a_key_is_a_401(services: Services, registered: TestClient) -> None:
    before = stored(services)
    response = registered.post("/api/v1/pledges", json=pledge_body())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert stored(services) == before


def test_a_key_of_the_wrong_role_is_a_403(services: Services, registered: TestClient) -> None:
    body = refused(
        services,
        registered,
        "/api/v1/networks",
        status=403,
        field=None,
        acting="validator",
        json={"id": "rogue", "name": {"en": "Rogue"}},
    )
    assert body["code"] == "not_permitted"


def test_a_network_writing_another_network_s_pledge_is_a_403(
    services: Services, registered: TestClient
) -> None:
    pledge_id = submit(registered)
    refused(
        services,
        registered,
        f"/api/v1/pledges/{pledge_id}/withdrawal",
        status=403,
        field=None,
        acting="metropolis",
        json={"reason": "Not ours"},
    )


# --- concurrency ---------------------------------------------------------------------------------


async def post_concurrently(
    app: FastAPI, path: str, body: Any, headers: dict[str, str], clients: int
) -> list[httpx.Response]:
    """``clients`` requests at once through the app's real lifespan (its writer included)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        return list(
            await asyncio.gather(
                *(http.post(path, json=body, headers=headers) for _ in range(clients))
            )
        )


def test_eight_clients_amending_with_the_same_if_match_get_exactly_one_201(
    services: Services, registered: TestClient
) -> None:
    pledge_id = submit(registered)
    before = stored(services)
    app = acting_by_header(create_app(services=services))

    responses = asyncio.run(
        post_concurrently(
            app,
            f"/api/v1/pledges/{pledge_id}/amendments",
            {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"},
            {**as_("uclg"), "If-Match": "1"},
            clients=8,
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 7
    assert stored(services) == (before[0] + 1, before[1] + 1)


def test_eight_clients_with_the_same_idempotency_key_store_once_and_get_one_receipt(
    services: Services, registered: TestClient
) -> None:
    before = stored(services)
    app = acting_by_header(create_app(services=services))

    responses = asyncio.run(
        post_concurrently(
            app,
            "/api/v1/pledges",
            pledge_body(),
            {**as_("uclg"), "Idempotency-Key": "once"},
            clients=8,
        )
    )

    assert [response.status_code for response in responses] == [201] * 8
    assert len({response.content for response in responses}) == 1
    assert stored(services) == (before[0] + 1, before[1] + 1)


def test_a_write_while_the_server_shuts_down_is_a_503_to_retry_and_stores_nothing(
    services: Services, registered: TestClient
) -> None:
    registered.app.state.writer.close()  # type: ignore[attr-defined]
    before = stored(services)

    response = registered.post("/api/v1/pledges", json=pledge_body(), headers=as_("uclg"))

    assert response.status_code == 503
    assert response.json()["code"] == "writer_unavailable"
    assert response.headers["retry-after"] == "1"
    assert stored(services) == before
