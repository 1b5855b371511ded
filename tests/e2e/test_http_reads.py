"""Public reads over HTTP: the pledge list and its filters, pages and CSV; a pledge now and on a
past date; its timeline; roll-ups; and the caching, CORS and gzip every GET answer carries."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from api.problems import PROBLEM_JSON
from ledger.clock import SteppingClock
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    VALIDATOR,
    register_basics,
    register_reference,
    submit_pledge,
)

PLEDGES = "/api/v1/pledges"


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def listed(client: TestClient, **params: Any) -> list[str]:
    response = client.get(PLEDGES, params=params)
    assert response.status_code == 200, response.text
    return [item["pledge_id"] for item in response.json()["items"]]


def problem_field(response: Any) -> tuple[int, str | None]:
    assert response.headers["content-type"] == PROBLEM_JSON
    return response.status_code, response.json().get("field")


def submit_for_metropolis(services: Services, **overrides: Any) -> str:
    body: dict[str, Any] = {
        "network_id": "metropolis",
        "cities": ["sn-dakar"],
        "title": {"en": "Legal aid desk"},
        "description": {"en": "Free legal counselling."},
        "gcm_objectives": [4],
        "gcr_areas": ["gcr-objective-2"],
        "sdg_targets": ["16.9"],
        "starts_on": "2026-01-01",
        "ends_on": "2027-12-31",
    }
    body.update(overrides)
    with services.ledger.batch() as batch:
        result = batch.execute("submit_pledge", METROPOLIS, body)
    assert result.pledge_id is not None
    return result.pledge_id


# --- the list ------------------------------------------------------------------------------------


def test_each_filter_of_the_list_keeps_only_the_matching_pledges(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    marrakech = submit_pledge(services)
    dakar = submit_for_metropolis(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=dakar,
        )

    assert listed(client, network="uclg") == [marrakech]
    assert listed(client, city="sn-dakar") == [dakar]
    assert listed(client, country="MA") == [marrakech]
    assert listed(client, status="validated") == [dakar]
    assert listed(client, gcm_objective=15) == [marrakech]
    assert listed(client, gcr_area="gcr-objective-2") == [dakar]
    assert listed(client, sdg="16.1") == [dakar]
    assert listed(client, network="uclg", status="validated") == []


def test_a_priority_area_filter_keeps_the_pledges_naming_that_area(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    register_reference(services)
    housing = submit_pledge(services, priority_areas=["housing"])
    submit_pledge(services)
    assert listed(client, priority_area="housing") == [housing]


def test_q_finds_text_in_any_language_whatever_its_case(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    french = submit_pledge(
        services,
        title={"en": "Welcome centre", "fr": "Centre d'accueil"},
        description={"en": "Orientation.", "fr": "Une ÉCOLE de langues pour tous."},
    )
    submit_pledge(services, title={"en": "Housing first"})

    assert listed(client, q="école") == [french]
    assert listed(client, q="ACCUEIL") == [french]
    assert listed(client, q="100%") == []


def test_q_treats_like_wildcards_as_plain_characters(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    submit_pledge(services, title={"en": "Welcome centre"})
    assert listed(client, q="W_lcome") == []
    assert listed(client, q="%") == []


def test_stale_lists_only_open_pledges_silent_past_the_window(
    services: Services, client: TestClient, clock: SteppingClock
) -> None:
    register_basics(services)
    quiet = submit_pledge(services)
    clock.set(datetime(2027, 6, 1, tzinfo=UTC))
    fresh = submit_pledge(services)

    assert listed(client, stale="true") == [quiet]
    assert sorted(listed(client, stale="false")) == sorted([quiet, fresh])


def test_pages_follow_the_cursor_until_every_pledge_was_seen_once(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    submitted = sorted(submit_pledge(services) for _ in range(5))

    seen: list[str] = []
    page = client.get(PLEDGES, params={"limit": 2, "network": "uclg"}).json()
    while True:
        seen += [item["pledge_id"] for item in page["items"]]
        if page["next"] is None:
            break
        assert "network=uclg" in page["next"]
        page = client.get(page["next"]).json()

    assert seen == submitted


def test_a_search_of_only_spaces_is_refused_naming_q(client: TestClient) -> None:
    assert problem_field(client.get(PLEDGES, params={"q": "   "})) == (400, "q")


@pytest.mark.parametrize("cursor", ["not base64!", "AAAA", "Zm9v="])
def test_a_cursor_the_server_did_not_make_is_refused_naming_it(
    client: TestClient, cursor: str
) -> None:
    response = client.get(PLEDGES, params={"cursor": cursor})
    assert problem_field(response) == (400, "cursor")


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "many"),
        ("status", "finished"),
        ("gcm_objective", "24"),
        ("country", "morocco"),
        ("sdg", "18.1"),
        ("stale", "sometimes"),
        ("format", "xlsx"),
        ("q", "x" * 201),
        ("q", ""),
    ],
)
def test_a_bad_list_parameter_is_refused_naming_it(
    client: TestClient, parameter: str, value: str
) -> None:
    response = client.get(PLEDGES, params={parameter: value})
    assert problem_field(response) == (422, parameter)


def test_csv_has_a_header_row_and_neutralises_formulas(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services, title={"en": '=HYPERLINK("http://x")'})

    response = client.get(PLEDGES, params={"format": "csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["pledge_id"] for row in rows] == [pledge_id]
    assert rows[0]["title_en"] == '\'=HYPERLINK("http://x")'


def test_csv_pages_link_to_the_next_page(services: Services, client: TestClient) -> None:
    register_basics(services)
    for _ in range(3):
        submit_pledge(services)

    response = client.get(PLEDGES, params={"format": "csv", "limit": 2})

    assert 'rel="next"' in response.headers["link"]
    assert "format=csv" in response.headers["link"]


# --- one pledge --------------------------------------------------------------------------------


def test_a_pledge_answers_its_current_state(services: Services, client: TestClient) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "x"},
            target=pledge_id,
        )

    body = client.get(f"{PLEDGES}/{pledge_id}").json()

    assert (body["pledge_id"], body["ends_on"], body["version"]) == (pledge_id, "2029-06-30", 2)


def test_as_of_answers_the_pledge_as_it_stood_that_day(
    services: Services, client: TestClient, clock: SteppingClock
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    clock.set(datetime(2026, 5, 1, tzinfo=UTC))
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "x"},
            target=pledge_id,
        )

    before = client.get(f"{PLEDGES}/{pledge_id}", params={"as_of": "2026-04-01"}).json()
    after = client.get(f"{PLEDGES}/{pledge_id}", params={"as_of": "2026-05-01"}).json()

    assert (before["ends_on"], before["version"]) == ("2028-12-31", 1)
    assert (after["ends_on"], after["version"]) == ("2029-06-30", 2)


def test_as_of_before_the_pledge_existed_is_not_found(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    response = client.get(f"{PLEDGES}/{pledge_id}", params={"as_of": "2025-01-01"})
    assert problem_field(response) == (404, "pledge_id")


@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30"])
def test_a_malformed_as_of_is_refused_naming_it(client: TestClient, as_of: str) -> None:
    response = client.get(f"{PLEDGES}/any", params={"as_of": as_of})
    assert problem_field(response) == (422, "as_of")


def test_an_as_of_in_the_future_is_refused_naming_it(client: TestClient) -> None:
    response = client.get(f"{PLEDGES}/any", params={"as_of": "2099-01-01"})
    assert problem_field(response) == (400, "as_of")


def test_an_unknown_pledge_is_a_404_naming_the_pledge_id(client: TestClient) -> None:
    assert problem_field(client.get(f"{PLEDGES}/no-such-pledge")) == (404, "pledge_id")
    assert problem_field(client.get(f"{PLEDGES}/no-such-pledge/timeline")) == (404, "pledge_id")


def test_the_timeline_lists_every_event_with_its_leaf_index(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "x"},
            target=pledge_id,
        )

    events = client.get(f"{PLEDGES}/{pledge_id}/timeline").json()["events"]

    assert [e["type"] for e in events] == ["pledge.submitted", "pledge.amended"]
    assert all(isinstance(e["leaf_index"], int) for e in events)


# --- roll-ups ------------------------------------------------------------------------------------


def test_a_network_rollup_counts_its_pledges(services: Services, client: TestClient) -> None:
    register_basics(services)
    submit_pledge(services)
    submit_pledge(services)

    body = client.get("/api/v1/networks/uclg/rollup").json()

    assert (body["key"], body["pledges"], body["open"]) == ("uclg", 2, 2)


def test_a_network_rollup_as_of_counts_only_what_was_recorded_by_then(
    services: Services, client: TestClient, clock: SteppingClock
) -> None:
    register_basics(services)
    submit_pledge(services)
    clock.set(datetime(2026, 5, 1, tzinfo=UTC))
    submit_pledge(services)

    then = client.get("/api/v1/networks/uclg/rollup", params={"as_of": "2026-04-01"}).json()

    assert then["pledges"] == 1


def test_a_network_without_pledges_rolls_up_to_zero(services: Services, client: TestClient) -> None:
    register_basics(services)
    body = client.get("/api/v1/networks/uclg/rollup").json()
    assert (body["key"], body["pledges"], body["open"]) == ("uclg", 0, 0)


def test_an_unknown_network_rollup_is_a_404_naming_the_network_id(client: TestClient) -> None:
    response = client.get("/api/v1/networks/nowhere/rollup")
    assert problem_field(response) == (404, "network_id")


def test_rollups_by_a_dimension_answer_every_key(services: Services, client: TestClient) -> None:
    register_basics(services)
    submit_pledge(services)
    submit_for_metropolis(services)

    body = client.get("/api/v1/rollups", params={"by": "country"}).json()
    past = client.get("/api/v1/rollups", params={"by": "country", "as_of": "2026-02-01"}).json()

    assert [(r["key"], r["pledges"]) for r in body["items"]] == [("MA", 1), ("SN", 1)]
    assert past["items"] == []


def test_rollups_by_an_unknown_dimension_are_refused_naming_by(client: TestClient) -> None:
    assert problem_field(client.get("/api/v1/rollups", params={"by": "colour"})) == (400, "by")
    assert problem_field(client.get("/api/v1/rollups")) == (422, "by")


# --- caching, CORS, gzip -------------------------------------------------------------------------


def test_a_get_carries_a_strong_etag_and_short_caching(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    response = client.get(PLEDGES)
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "public, max-age=5"


def test_if_none_match_with_the_current_etag_answers_304_without_a_body(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    submit_pledge(services)
    tag = client.get(PLEDGES).headers["etag"]

    response = client.get(PLEDGES, headers={"If-None-Match": tag})

    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == tag


def test_the_etag_changes_when_the_answer_changes(services: Services, client: TestClient) -> None:
    register_basics(services)
    tag = client.get(PLEDGES).headers["etag"]
    submit_pledge(services)

    response = client.get(PLEDGES, headers={"If-None-Match": tag})

    assert response.status_code == 200
    assert response.headers["etag"] != tag


def test_errors_and_health_probes_are_not_cached(client: TestClient) -> None:
    assert client.get(f"{PLEDGES}/none").headers["cache-control"] == "no-store"
    assert client.get("/readyz").headers["cache-control"] == "no-store"


def test_any_origin_may_read_but_not_write(client: TestClient) -> None:
    read = client.get(PLEDGES, headers={"Origin": "https://example.org"})
    preflight = client.options(
        PLEDGES,
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
    )
    assert read.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 400
    assert "POST" not in preflight.headers.get("access-control-allow-methods", "")


def test_a_large_answer_is_gzipped_for_a_client_that_accepts_it(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    for _ in range(5):
        submit_pledge(services)

    response = client.get(PLEDGES, headers={"Accept-Encoding": "gzip"})

    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["items"]) == 5


def test_the_openapi_document_shows_the_read_models(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {
        "PledgePageOut",
        "PledgeOut",
        "TimelineOut",
        "RollupOut",
        "RollupsOut",
        "InclusionProofOut",
        "ConsistencyProofOut",
        "ReceiptOut",
    } <= set(schemas)


def test_rollups_come_a_page_at_a_time_in_code_point_order_now_and_as_of_a_day(
    services: Services, client: TestClient
) -> None:
    """``limit`` and ``cursor`` page through a dimension in the order Python sorts keys, on
    either backend whatever its collation ("ma-zz" before "maaa": a hyphen sorts before a letter
    by code point, after it in a linguistic collation), and the pages add up to the whole list."""
    register_basics(services)
    with services.ledger.batch() as batch:
        for city_id in ("maaa", "ma-zz"):
            batch.execute(
                "register_city", ADMIN, {"id": city_id, "name": {"en": city_id}, "country": "MA"}
            )
            batch.execute("join_network", ADMIN, {"city_id": city_id}, target="uclg")
    submit_pledge(services, cities=["ma-marrakech", "maaa", "ma-zz"])
    submit_for_metropolis(services)

    for as_of in (None, "2026-03-01"):
        scope = {"by": "city"} if as_of is None else {"by": "city", "as_of": as_of}
        whole = client.get("/api/v1/rollups", params=scope).json()
        keys = [r["key"] for r in whole["items"]]
        assert keys == ["ma-marrakech", "ma-zz", "maaa", "sn-dakar"]
        assert (whole["cursor"], whole["next"]) == (None, None)

        paged: list[dict[str, Any]] = []
        page = client.get("/api/v1/rollups", params={**scope, "limit": 1}).json()
        while True:
            paged.extend(page["items"])
            if page["next"] is None:
                assert page["cursor"] is None
                break
            assert page["next"].startswith("/api/v1/rollups?")
            following = client.get(page["next"]).json()
            assert (
                following
                == client.get(
                    "/api/v1/rollups", params={**scope, "limit": 1, "cursor": page["cursor"]}
                ).json()
            )
            page = following
        assert paged == whole["items"]

        last = client.get("/api/v1/rollups", params={**scope, "limit": 3}).json()
        assert [r["key"] for r in last["items"]] == keys[:3]
        rest = client.get(
            "/api/v1/rollups", params={**scope, "limit": 3, "cursor": last["cursor"]}
        ).json()
        assert ([r["key"] for r in rest["items"]], rest["cursor"]) == (["sn-dakar"], None)


def test_a_rollups_page_refuses_a_cursor_it_did_not_make_and_a_limit_out_of_range(
    client: TestClient,
) -> None:
    assert problem_field(
        client.get("/api/v1/rollups", params={"by": "city", "cursor": "not a cursor!"})
    ) == (400, "cursor")
    assert problem_field(client.get("/api/v1/rollups", params={"by": "city", "limit": 0})) == (
        422,
        "limit",
    )
    assert problem_field(client.get("/api/v1/rollups", params={"by": "city", "limit": 5001})) == (
        422,
        "limit",
    )
