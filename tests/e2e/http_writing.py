"""Helpers of the HTTP write tests: acting principals, the registry over HTTP, receipt checks."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from api.auth import authenticated_principal
from api.bootstrap import Services, count_events
from domain.principal import Principal
from ledger.checkpoint import open_checkpoint
from ledger.merkle import verify_inclusion
from ledger.note import Verifier
from tests.integration.ledger_scenario import ADMIN, METROPOLIS, UCLG, VALIDATOR, issue_keys

ACTING = {"admin": ADMIN, "uclg": UCLG, "metropolis": METROPOLIS, "validator": VALIDATOR}


def as_(name: str) -> dict[str, str]:
    """The Authorization header the test principal resolver reads."""
    return {"authorization": f"Bearer {name}"}


def principal_by_name(request: Request) -> Principal:
    """Stands in for the API-key dependency (its own tests are tests/e2e/test_auth.py):
    ``Bearer <name>`` acts as ``ACTING[name]``, whose key ``register_over_http`` issued."""
    name = request.headers.get("authorization", "").removeprefix("Bearer ")
    if name not in ACTING:
        raise HTTPException(401, "unknown test principal", headers={"WWW-Authenticate": "Bearer"})
    return ACTING[name]


def acting_by_header(app: FastAPI) -> FastAPI:
    app.dependency_overrides[authenticated_principal] = principal_by_name
    return app


def register_over_http(post: Callable[..., Any], services: Services) -> None:
    """The test principals' keys on the log (issued by the operator, as ``keys issue`` does),
    uclg with Marrakech and metropolis with Dakar, every write answered 201."""
    with services.ledger.batch() as batch:
        issue_keys(batch, ADMIN, VALIDATOR)
    for path, body in (
        ("/api/v1/networks", {"id": "uclg", "name": {"en": "UCLG"}}),
        ("/api/v1/networks", {"id": "metropolis", "name": {"en": "Metropolis"}}),
        ("/api/v1/cities", {"id": "ma-marrakech", "name": {"en": "Marrakech"}, "country": "MA"}),
        ("/api/v1/cities", {"id": "sn-dakar", "name": {"en": "Dakar"}, "country": "SN"}),
        ("/api/v1/networks/uclg/members", {"city_id": "ma-marrakech"}),
        ("/api/v1/networks/metropolis/members", {"city_id": "sn-dakar"}),
    ):
        response = post(path, json=body, headers=as_("admin"))
        assert response.status_code == 201, response.text
    with services.ledger.batch() as batch:
        issue_keys(batch, UCLG, METROPOLIS)


def stored(services: Services) -> tuple[int, int]:
    """(events stored, leaves in the log): what a refused request must leave unchanged."""
    return count_events(services.engine, services.settings), services.log.tree_size()


def check_receipt(receipt: Mapping[str, Any], verifier: Verifier, origin: str) -> None:
    """The receipt's checkpoint verifies with the log's key and its proof leads to its root."""
    signed = open_checkpoint(receipt["checkpoint"].encode(), verifier, origin)
    assert signed.size == receipt["tree_size"] > receipt["leaf_index"]
    verify_inclusion(
        base64.b64decode(receipt["leaf_hash"]),
        receipt["leaf_index"],
        signed.size,
        [base64.b64decode(h) for h in receipt["inclusion_proof"]],
        signed.root,
    )
