"""Reference data over HTTP (ADR 0014): admins register it with POST, anyone reads it with GET,
refusals are problem+json naming the field with nothing stored, and pledges are listed by the
new tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from api.problems import PROBLEM_JSON
from tests.e2e.http_writing import acting_by_header, as_, register_over_http, stored
from tests.integration.ledger_scenario import pledge_body

CALL = {
    "id": "imrf-2026",
    "title": {"en": "Call to action for the IMRF 2026", "fr": "Appel à l'action FEMI 2026"},
    "opens_on": "2026-01-01",
    "closes_on": "2026-04-30",
}


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(acting_by_header(create_app(services=services))) as test_client:
        register_over_http(test_client.post, services)
        yield test_client


def created(client: TestClient, path: str, body: dict[str, Any], who: str = "admin") -> None:
    response = client.post(path, json=body, headers=as_(who))
    assert response.status_code == 201, response.text
    assert response.json()["receipt"]["leaf_index"] >= 0


def refused(
    services: Services,
    client: TestClient,
    path: str,
    body: dict[str, Any],
    *,
    status: int,
    field: str | None,
    who: str = "admin",
) -> dict[str, Any]:
    before = stored(services)
    response = client.post(path, json=body, headers=as_(who))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem.get("field") == field
    assert stored(services) == before
    return problem


def test_an_admin_registers_reference_data_that_anyone_reads(client: TestClient) -> None:
    created(
        client, "/api/v1/reference/priority-areas", {"id": "housing", "title": {"en": "Housing"}}
    )
    created(client, "/api/v1/reference/calls", CALL)
    created(
        client,
        "/api/v1/reference/declarations",
        {"id": "marrakech-2018", "title": {"en": "Marrakech"}, "adopted_on": "2018-12-08"},
    )
    created(client, "/api/v1/reference/priority-areas/housing/retirement", {"reason": "Merged"})

    areas = client.get("/api/v1/reference/priority-areas").json()
    calls = client.get("/api/v1/reference/calls").json()
    declarations = client.get("/api/v1/reference/declarations").json()

    assert [(a["id"], a["retired"], a["retired_reason"]) for a in areas] == [
        ("housing", True, "Merged")
    ]
    assert [(c["id"], c["opens_on"], c["closes_on"]) for c in calls] == [
        ("imrf-2026", "2026-01-01", "2026-04-30")
    ]
    assert calls[0]["title"]["fr"] == "Appel à l'action FEMI 2026"
    assert [(d["id"], d["adopted_on"]) for d in declarations] == [("marrakech-2018", "2018-12-08")]


def test_a_network_may_not_register_reference_data(services: Services, client: TestClient) -> None:
    refused(
        services,
        client,
        "/api/v1/reference/priority-areas",
        {"id": "housing", "title": {"en": "Housing"}},
        status=403,
        field=None,
        who="uclg",
    )


def test_a_call_that_closes_before_it_opens_is_refused(
    services: Services, client: TestClient
) -> None:
    refused(
        services,
        client,
        "/api/v1/reference/calls",
        {**CALL, "closes_on": "2025-12-31"},
        status=422,
        field="closes_on",
    )


def test_retiring_an_unregistered_area_is_refused(services: Services, client: TestClient) -> None:
    refused(
        services,
        client,
        "/api/v1/reference/priority-areas/housing/retirement",
        {"reason": "Merged"},
        status=404,
        field="area_id",
    )


def test_a_pledge_with_a_retired_area_is_refused_naming_the_field(
    services: Services, client: TestClient
) -> None:
    created(client, "/api/v1/reference/priority-areas", {"id": "housing", "title": {"en": "H"}})
    created(client, "/api/v1/reference/priority-areas/housing/retirement", {"reason": "Merged"})
    refused(
        services,
        client,
        "/api/v1/pledges",
        pledge_body(priority_areas=["housing"]),
        status=422,
        field="priority_areas",
        who="uclg",
    )


def test_a_pledge_naming_sdg_target_10_99_is_refused(
    services: Services, client: TestClient
) -> None:
    problem = refused(
        services,
        client,
        "/api/v1/pledges",
        pledge_body(sdg_targets=["10.99"]),
        status=422,
        field="sdg_targets",
        who="uclg",
    )
    assert "10.99" in problem["detail"]


def test_pledges_are_listed_by_guiding_principle_and_by_call(client: TestClient) -> None:
    created(client, "/api/v1/reference/calls", CALL)
    answering = client.post(
        "/api/v1/pledges",
        json=pledge_body(calls=["imrf-2026"], gcm_principles=["people-centred"]),
        headers=as_("uclg"),
    ).json()["pledge_id"]
    created(client, "/api/v1/pledges", pledge_body(nua_paragraphs=[28]), who="uclg")

    by_call = client.get("/api/v1/pledges", params={"call": "imrf-2026"}).json()
    by_principle = client.get("/api/v1/pledges", params={"gcm_principle": "people-centred"}).json()
    page = client.get(f"/api/v1/pledges/{answering}").json()

    assert [p["pledge_id"] for p in by_call["items"]] == [answering]
    assert [p["pledge_id"] for p in by_principle["items"]] == [answering]
    assert (page["calls"], page["gcm_principles"]) == (["imrf-2026"], ["people-centred"])


def test_the_taxonomies_are_readable_with_their_labels(client: TestClient) -> None:
    principles = client.get("/api/v1/reference/taxonomies/gcm-guiding-principles").json()
    objectives = client.get("/api/v1/reference/taxonomies/gcm-objectives").json()
    targets = client.get("/api/v1/reference/sdg-targets").json()
    unknown = client.get("/api/v1/reference/taxonomies/colours")

    assert len(principles) == 10
    assert principles[0]["labels"] == {
        "en": "People-centred",
        "fr": "Priorité à la dimension humaine",
        "es": "Centrada en las personas",
    }
    assert objectives[0]["labels"]["es"] == "Datos"
    assert len(targets) == 169
    assert targets[:3] == ["1.1", "1.2", "1.3"]
    assert "10.7" in targets
    assert "10.99" not in targets
    assert unknown.status_code == 422
