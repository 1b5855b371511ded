"""Schemathesis against the app's own OpenAPI document: no 5xx, every answer within its schema.

Requests are generated from ``/openapi.json`` for every operation and sent to the app (through
ASGI, in-process) on a small demo ledger; each answer must not be a server error and must match
the status codes, content types and bodies the document declares. Bounded: a few dozen examples
an operation, so the whole module stays within a few minutes on CI.

Schemathesis's own pytest plugin does not run under pytest 9, so each operation is driven
through its Hypothesis strategy here, one parametrised test an operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.bootstrap import Services, bootstrap
from api.demo import demo_clock, load_demo
from domain.keys import OPERATOR
from ledger.api_keys import KeySecrets, issue_key
from ledger.clock import SeededIds
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from tests.conftest import sqlite_settings

EXAMPLES_PER_OPERATION = 30


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _operations(app_schema: schemathesis.BaseSchema) -> dict[str, Operation]:
    found: dict[str, Operation] = {}
    for result in app_schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid operation raises here
        found[operation.label] = operation
    return found


def _document_labels() -> list[str]:
    """Every operation of the OpenAPI document (building the app wires no store until it runs)."""
    settings = LedgerSettings(
        database_url="sqlite:////nonexistent/openapi.db", signing_key_file=Path("/nonexistent/k")
    )
    document = create_app(settings).openapi()
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    )


OPERATIONS = _document_labels()


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    ledger_settings = sqlite_settings(folder)
    with bootstrap(
        ledger_settings, clock=demo_clock(), ids=SeededIds(11), write_mode=WriteMode.BULK_LOAD
    ) as loading:
        load_demo(loading, pledges=15, seed=3)
    with bootstrap(ledger_settings) as services:
        yield services


@pytest.fixture(scope="module")
def admin_token(demo_ledger: Services) -> str:
    """An admin key, so that generated writes reach the rules and not only the 401."""
    secrets = KeySecrets(demo_ledger.engine, demo_ledger.ledger.clock)
    issued = issue_key(demo_ledger.ledger, secrets, OPERATOR, role="admin", label="schemathesis")
    return issued.token


@pytest.fixture(scope="module")
def live_operations(demo_ledger: Services) -> dict[str, Operation]:
    return _operations(
        schemathesis.openapi.from_asgi("/openapi.json", create_app(services=demo_ledger))
    )


def test_the_document_lists_every_public_operation() -> None:
    assert len(OPERATIONS) >= 17
    assert "GET /api/v1/pledges" in OPERATIONS


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_without_server_errors_and_within_its_schema(
    label: str, live_operations: dict[str, Operation], admin_token: str
) -> None:
    operation = live_operations[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answers_within_its_schema(case: schemathesis.Case[Any]) -> None:
        # An id the ledger does not hold, or a size beyond the tree, is a schema-valid request
        # that is rightly refused (404 / 400): only "schema-valid means accepted" is left out.
        case.call_and_validate(
            headers={"Authorization": f"Bearer {admin_token}"},
            excluded_checks=[positive_data_acceptance],
        )

    answers_within_its_schema()
