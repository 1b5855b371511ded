"""Issue 11 items 1, 2 and 5 over HTTP: translations, external ids, registry corrections,
departures and signature withdrawals answer 201 with a receipt; refusals are problem+json
naming the field, and store nothing. Run against every backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from api.problems import PROBLEM_JSON
from tests.e2e.http_writing import acting_by_header, as_, check_receipt, register_over_http, stored
from tests.integration.ledger_scenario import pledge_body, register_reference


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(acting_by_header(create_app(services=services))) as test_client:
        register_over_http(test_client.post, services)
        yield test_client


def created(services: Services, response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    check_receipt(body["receipt"], services.log.signer.verifier, services.settings.log_origin)
    return body


def submit(client: TestClient) -> str:
    response = client.post("/api/v1/pledges", json=pledge_body(), headers=as_("uclg"))
    assert response.status_code == 201, response.text
    pledge_id: str = response.json()["pledge_id"]
    return pledge_id


def refused(
    services: Services,
    client: TestClient,
    path: str,
    body: dict[str, Any] | None,
    *,
    status: int,
    field: str | None,
    acting: str = "uclg",
) -> dict[str, Any]:
    before = stored(services)
    response = client.post(path, json=body, headers=as_(acting))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem.get("field") == field
    assert stored(services) == before
    return problem


def test_a_translation_keeps_the_pledge_validated_and_shows_in_its_page(
    services: Services, client: TestClient
) -> None:
    pledge_id = submit(client)
    validation = {"decision": "validated", "criteria": ["specific"]}
    created(
        services,
        client.post(
            f"/api/v1/pledges/{pledge_id}/validations", json=validation, headers=as_("validator")
        ),
    )

    body = created(
        services,
        client.post(
            f"/api/v1/pledges/{pledge_id}/translations",
            json={"field": "title", "language": "fr", "text": "Guichet unique d'accueil"},
            headers={**as_("uclg"), "If-Match": "2"},
        ),
    )

    assert body["receipt"]["stream_version"] == 3
    page = client.get(f"/api/v1/pledges/{pledge_id}").json()
    assert page["status"] == "validated"
    assert [(t["field"], t["language"]) for t in page["translations"]] == [("title", "fr")]
    timeline = client.get(f"/api/v1/pledges/{pledge_id}/timeline").json()
    assert timeline["events"][-1]["type"] == "pledge.translated"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"field": "title", "language": "en", "text": "Same language"}, 422, "language"),
        ({"field": "motto", "language": "fr", "text": "Bienvenue"}, 422, "field"),
        ({"field": "title", "language": "de", "text": "Willkommen"}, 422, "language"),
        ({"field": "title", "language": "fr", "text": ""}, 422, "text"),
        ({"field": "narrative", "language": "fr", "text": "Ouvert."}, 422, "progress_event_id"),
        (
            {"field": "title", "language": "fr", "text": "Écrire à x@example.org"},
            422,
            "text",
        ),
    ],
)
def test_a_bad_translation_is_a_problem_naming_the_field(
    services: Services, client: TestClient, body: dict[str, Any], status: int, field: str
) -> None:
    pledge_id = submit(client)

    refused(
        services,
        client,
        f"/api/v1/pledges/{pledge_id}/translations",
        body,
        status=status,
        field=field,
    )


def test_a_stale_if_match_on_a_translation_is_refused(
    services: Services, client: TestClient
) -> None:
    pledge_id = submit(client)
    before = stored(services)

    response = client.post(
        f"/api/v1/pledges/{pledge_id}/translations",
        json={"field": "title", "language": "fr", "text": "Guichet"},
        headers={**as_("uclg"), "If-Match": "7"},
    )

    assert response.status_code == 409
    assert stored(services) == before


def test_external_ids_are_added_found_refused_twice_and_removed(
    services: Services, client: TestClient
) -> None:
    first, second = submit(client), submit(client)
    path = f"/api/v1/pledges/{first}/external-ids"

    added = created(
        services,
        client.post(
            path,
            json={"scheme": "grf", "value": "GRF-2023-00417"},
            headers={**as_("uclg"), "Idempotency-Key": "grf-1"},
        ),
    )
    retried = client.post(
        path,
        json={"scheme": "grf", "value": "GRF-2023-00417"},
        headers={**as_("uclg"), "Idempotency-Key": "grf-1"},
    )
    assert retried.status_code == 201
    assert retried.json()["receipt"]["event_id"] == added["receipt"]["event_id"]
    assert added["receipt"]["stream_id"] == f"pledge:{first}"

    found = client.get("/api/v1/pledges", params={"external_id": "grf:GRF-2023-00417"}).json()
    assert [p["pledge_id"] for p in found["items"]] == [first]
    assert found["items"][0]["external_ids"] == ["grf:GRF-2023-00417"]
    page = client.get(f"/api/v1/pledges/{first}").json()
    assert [x["id"] for x in page["external_ids"]] == ["grf:GRF-2023-00417"]

    refused(
        services,
        client,
        f"/api/v1/pledges/{second}/external-ids",
        {"scheme": "grf", "value": "GRF-2023-00417"},
        status=409,
        field="value",
    )
    created(
        services,
        client.post(
            f"{path}/removal",
            json={"scheme": "grf", "value": "GRF-2023-00417", "reason": "Another pledge's"},
            headers=as_("uclg"),
        ),
    )
    found = client.get("/api/v1/pledges", params={"external_id": "grf:GRF-2023-00417"}).json()
    assert found["items"] == []


@pytest.mark.parametrize("query", ["grf", "grf:", "GRF:1", "grf:has space"])
def test_a_malformed_external_id_query_is_a_problem(client: TestClient, query: str) -> None:
    response = client.get("/api/v1/pledges", params={"external_id": query})

    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["field"] == "external_id"


def test_another_networks_external_id_scheme_is_refused(
    services: Services, client: TestClient
) -> None:
    pledge_id = submit(client)

    refused(
        services,
        client,
        f"/api/v1/pledges/{pledge_id}/external-ids",
        {"scheme": "metropolis", "value": "M-1"},
        status=422,
        field="scheme",
    )


def test_a_city_is_corrected_and_its_history_shows_both_versions(
    services: Services, client: TestClient
) -> None:
    created(
        services,
        client.post(
            "/api/v1/cities/ma-marrakech/corrections",
            json={"name": {"fr": "Marrakech"}, "country": "MA", "reason": "French name"},
            headers=as_("admin"),
        ),
    )

    history = client.get("/api/v1/cities/ma-marrakech/history").json()
    assert [e["type"] for e in history["events"]] == ["city.registered", "city.corrected"]
    assert history["events"][1]["payload"]["name"] == {"en": "Marrakech", "fr": "Marrakech"}


def test_correcting_an_unknown_city_is_a_404_naming_it(
    services: Services, client: TestClient
) -> None:
    refused(
        services,
        client,
        "/api/v1/cities/ma-nowhere/corrections",
        {"country": "MA", "reason": "Typo"},
        status=404,
        field="city_id",
        acting="admin",
    )


def test_a_network_corrects_its_own_names_but_not_a_city(
    services: Services, client: TestClient
) -> None:
    created(
        services,
        client.post(
            "/api/v1/networks/uclg/corrections",
            json={"name": {"fr": "CGLU"}, "reason": "French name"},
            headers=as_("uclg"),
        ),
    )
    refused(
        services,
        client,
        "/api/v1/cities/ma-marrakech/corrections",
        {"country": "SN", "reason": "Moved"},
        status=403,
        field=None,
    )
    history = client.get("/api/v1/networks/uclg/history").json()
    assert history["events"][-1]["type"] == "network.corrected"


def test_a_city_leaves_a_network_and_the_networks_history_keeps_it(
    services: Services, client: TestClient
) -> None:
    created(
        services,
        client.post("/api/v1/networks/uclg/members/ma-marrakech/departure", headers=as_("uclg")),
    )
    refused(
        services,
        client,
        "/api/v1/networks/uclg/members/ma-marrakech/departure",
        None,
        status=404,
        field="city_id",
    )
    history = client.get("/api/v1/networks/uclg/history").json()
    assert [e["type"] for e in history["events"]][-2:] == [
        "network.city_joined",
        "network.city_left",
    ]


def test_a_signature_is_withdrawn_and_the_declarations_history_keeps_it(
    services: Services, client: TestClient
) -> None:
    register_reference(services, ())  # the declaration is registered on the log (ADR 0014)
    created(
        services,
        client.post(
            "/api/v1/declarations/marrakech-2018/signatures",
            json={"city_id": "ma-marrakech", "signed_on": "2018-12-10"},
            headers=as_("uclg"),
        ),
    )
    path = "/api/v1/declarations/marrakech-2018/signatures/ma-marrakech/withdrawal"

    created(
        services,
        client.post(
            path,
            json={"withdrawn_on": "2025-06-01", "reason": "Council decision"},
            headers=as_("uclg"),
        ),
    )

    refused(
        services,
        client,
        path,
        {"withdrawn_on": "2025-06-01", "reason": "Again"},
        status=404,
        field="city_id",
    )
    history = client.get("/api/v1/declarations/marrakech-2018/history").json()
    assert [e["type"] for e in history["events"]] == [
        "declaration.registered",
        "declaration.signed",
        "declaration.signature_withdrawn",
    ]


def test_the_history_of_an_unknown_city_is_a_404(client: TestClient) -> None:
    response = client.get("/api/v1/cities/ma-nowhere/history")

    assert response.status_code == 404
    assert response.json()["field"] == "city_id"
