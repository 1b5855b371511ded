"""The write API's frame: its OpenAPI document, the app's refusal of a ledger that gives no
receipts, and requests fingerprinted as the ledger's commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from ledger.errors import ConfigurationError
from ledger.write_path import WriteMode
from tests.e2e.http_writing import acting_by_header, as_, register_over_http, stored
from tests.integration.ledger_scenario import UCLG, pledge_body

WRITES = {
    "/api/v1/networks": ("NetworkIn", "WriteOut"),
    "/api/v1/cities": ("CityIn", "WriteOut"),
    "/api/v1/networks/{network_id}/members": ("MemberIn", "WriteOut"),
    "/api/v1/declarations/{declaration_id}/signatures": ("SignatureIn", "WriteOut"),
    "/api/v1/pledges": ("PledgeIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/amendments": ("AmendmentIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/progress": ("ProgressIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/validations": ("ValidationIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/matches": ("MatchIn", "MatchWriteOut"),
    "/api/v1/pledges/{pledge_id}/matches/{match_id}/acceptance": (
        "MatchAcceptanceIn",
        "PledgeWriteOut",
    ),
    "/api/v1/pledges/{pledge_id}/matches/{match_id}/declination": (
        "MatchDeclinationIn",
        "PledgeWriteOut",
    ),
    "/api/v1/pledges/{pledge_id}/matches/{match_id}/ending": ("MatchEndingIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/withdrawal": ("WithdrawalIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/closure": ("ClosureIn", "PledgeWriteOut"),
    "/api/v1/pledges/{pledge_id}/errata": ("ErratumIn", "PledgeWriteOut"),
    "/api/v1/reference/priority-areas": ("PriorityAreaIn", "WriteOut"),
    "/api/v1/reference/priority-areas/{area_id}/retirement": ("RetirementIn", "WriteOut"),
    "/api/v1/reference/declarations": ("DeclarationIn", "WriteOut"),
    "/api/v1/reference/calls": ("CallIn", "WriteOut"),
}


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def test_openapi_documents_every_write_with_its_body_receipt_and_problems(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    for path, (body, answer) in WRITES.items():
        post = schema["paths"][path]["post"]
        sent = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        answered = post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
        assert (sent, answered) == (
            f"#/components/schemas/{body}",
            f"#/components/schemas/{answer}",
        )
        assert "application/problem+json" in post["responses"]["422"]["content"]
        headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers
    receipt = schema["components"]["schemas"]["ReceiptOut"]["properties"]
    assert {"event_id", "leaf_index", "leaf_hash", "checkpoint", "inclusion_proof"} <= set(receipt)


def test_the_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_the_app_refuses_a_ledger_that_gives_no_receipts(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.APPEND_ONLY)
    with pytest.raises(ConfigurationError) as caught, TestClient(create_app(services=services)):
        pass
    assert caught.value.field == "write_mode"


def test_a_retry_over_http_of_a_command_first_sent_to_the_ledger_is_recognised(
    services: Services,
) -> None:
    with TestClient(acting_by_header(create_app(services=services))) as client:
        register_over_http(client.post, services)
        first = services.ledger.write("submit_pledge", UCLG, pledge_body(), idempotency_key="k")
        before = stored(services)

        again = client.post(
            "/api/v1/pledges", json=pledge_body(), headers={**as_("uclg"), "Idempotency-Key": "k"}
        )

    assert again.status_code == 201
    assert again.json()["pledge_id"] == first.result.pledge_id
    assert stored(services) == before
