"""Two-way matching and errata on figures over HTTP (ADR 0015): offer, answer and end a match,
correct an observation through ``/errata``, find pledges asking for support; every refusal is a
problem naming the field, with nothing stored."""

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


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(acting_by_header(create_app(services=services))) as test_client:
        register_over_http(test_client.post, services)
        yield test_client


def post(client: TestClient, path: str, acting: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body, headers=as_(acting))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refused(
    services: Services, client: TestClient, path: str, acting: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    before = stored(services)
    response = client.post(path, json=body, headers=as_(acting))
    assert response.headers["content-type"] == PROBLEM_JSON
    assert stored(services) == before
    problem: dict[str, Any] = response.json()
    return response.status_code, problem


def two_pledges(client: TestClient) -> tuple[str, str]:
    host = post(client, "/api/v1/pledges", "uclg", pledge_body())["pledge_id"]
    body = pledge_body(network_id="metropolis", cities=["sn-dakar"])
    supporting = post(client, "/api/v1/pledges", "metropolis", body)["pledge_id"]
    return host, supporting


def test_a_match_offered_by_one_side_and_accepted_by_the_other_shows_on_both_pages(
    client: TestClient,
) -> None:
    host, supporting = two_pledges(client)
    offer = post(
        client,
        f"/api/v1/pledges/{host}/matches",
        "metropolis",
        {"kind": "pledge", "supporting_pledge_id": supporting, "note": "Our lawyers"},
    )
    assert offer["match_id"] == offer["receipt"]["event_id"]
    match = f"/api/v1/pledges/{host}/matches/{offer['match_id']}"
    post(client, f"{match}/acceptance", "uclg", {"note": "Thanks"})
    for pledge_id, side in ((host, "host"), (supporting, "supporter")):
        [shown] = client.get(f"/api/v1/pledges/{pledge_id}").json()["matches"]
        assert (shown["status"], shown["side"], shown["host_pledge_id"]) == (
            "accepted",
            side,
            host,
        )
    post(client, f"{match}/ending", "metropolis", {"reason": "Programme over"})
    [ended] = client.get(f"/api/v1/pledges/{supporting}").json()["matches"]
    assert ended["status"] == "ended"
    types = [e["type"] for e in client.get(f"/api/v1/pledges/{host}/timeline").json()["events"]]
    assert types[-3:] == ["pledge.match_offered", "pledge.match_accepted", "pledge.match_ended"]


def test_answering_refusals_are_problems_and_store_nothing(
    services: Services, client: TestClient
) -> None:
    host, supporting = two_pledges(client)
    offer = post(
        client,
        f"/api/v1/pledges/{host}/matches",
        "uclg",
        {"kind": "pledge", "supporting_pledge_id": supporting},
    )
    match = f"/api/v1/pledges/{host}/matches/{offer['match_id']}"
    status, _ = refused(services, client, f"{match}/acceptance", "uclg", {})
    assert status == 403  # one's own offer
    post(client, f"{match}/declination", "metropolis", {"reason": "Not this year"})
    status, _ = refused(services, client, f"{match}/acceptance", "metropolis", {})
    assert status == 409  # declined
    status, problem = refused(
        services, client, f"/api/v1/pledges/{host}/matches/nope/acceptance", "metropolis", {}
    )
    assert (status, problem["field"]) == (404, "match_id")


@pytest.mark.parametrize(
    ("offer", "field"),
    [
        ({"amount": 100, "currency": "EUR"}, "amount"),
        ({"amount": "1,000", "currency": "EUR"}, "amount"),
        ({"amount": "100", "currency": "euro"}, "currency"),
        ({"amount": "100", "currency": "XAU"}, "currency"),
        ({"amount": "100"}, "currency"),
    ],
)
def test_a_funder_offer_with_a_bad_amount_or_currency_is_refused_naming_it(
    services: Services, client: TestClient, offer: dict[str, Any], field: str
) -> None:
    host, _ = two_pledges(client)
    body = {"kind": "funder", "funder": "Urban Fund", **offer}
    status, problem = refused(services, client, f"/api/v1/pledges/{host}/matches", "uclg", body)
    assert (status, problem["field"]) == (422, field)


def report(client: TestClient, pledge_id: str, **extra: Any) -> str:
    body = {
        "period": {"start": "2026-01-01", "end": "2026-02-28"},
        "stage": "in_progress",
        "observations": [{"indicator_id": "people-served", "value": "1200", "date": "2026-02-28"}],
        **extra,
    }
    event_id: str = post(client, f"/api/v1/pledges/{pledge_id}/progress", "uclg", body)["receipt"][
        "event_id"
    ]
    return event_id


def test_an_erratum_with_an_observation_corrects_the_figure_roll_ups_use(
    client: TestClient,
) -> None:
    host, _ = two_pledges(client)
    report_id = report(client, host)
    post(
        client,
        f"/api/v1/pledges/{host}/errata",
        "uclg",
        {
            "corrects_event_id": report_id,
            "note": "Fifty people were counted twice",
            "observation": {"indicator_id": "people-served", "date": "2026-02-28", "value": "1150"},
        },
    )
    page = client.get(f"/api/v1/pledges/{host}").json()
    [indicator] = page["indicators"]
    assert (indicator["latest"]["value"], indicator["latest"]["reported_value"]) == ("1150", "1200")
    [correction] = page["observation_corrections"]
    assert (correction["previous_value"], correction["value"]) == ("1200", "1150")
    rollup = client.get("/api/v1/networks/uclg/rollup").json()
    assert rollup["indicators"][0]["latest_total"] == "1150"


def test_an_erratum_naming_a_missing_observation_is_a_404_naming_it(
    services: Services, client: TestClient
) -> None:
    host, _ = two_pledges(client)
    report_id = report(client, host)
    body = {
        "corrects_event_id": report_id,
        "note": "Wrong day",
        "observation": {"indicator_id": "people-served", "date": "2026-01-31", "value": "3"},
    }
    status, problem = refused(services, client, f"/api/v1/pledges/{host}/errata", "uclg", body)
    assert (status, problem["field"]) == (404, "progress_event_id")


def test_pledges_asking_for_support_are_listed(client: TestClient) -> None:
    host, _ = two_pledges(client)
    report(client, host, support_needed="Legal aid partners")
    found = client.get("/api/v1/pledges", params={"support_needed": "true"}).json()["items"]
    assert [p["pledge_id"] for p in found] == [host]
    assert client.get(f"/api/v1/pledges/{host}").json()["support_needed"] == "Legal aid partners"
