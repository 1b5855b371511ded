"""A small registry and pledge, built through the real ledger, for integration tests."""

from __future__ import annotations

from typing import Any

from api.bootstrap import Services
from domain.keys import OPERATOR
from domain.principal import Principal
from ledger.commands import Batch
from ledger.reference_seed import register_reference_seed

ADMIN = Principal("admin-1", "admin")
UCLG = Principal("uclg-key", "network", "uclg")
METROPOLIS = Principal("metropolis-key", "network", "metropolis")
VALIDATOR = Principal("validator-1", "validator")


def pledge_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "network_id": "uclg",
        "cities": ["ma-marrakech"],
        "title": {"en": "One-stop welcome centre for newcomers"},
        "description": {"en": "Open a municipal welcome centre offering orientation."},
        "gcm_objectives": [15, 16],
        "sdg_targets": ["10.7"],
        "starts_on": "2026-01-01",
        "ends_on": "2028-12-31",
        "indicators": [
            {
                "id": "people-served",
                "title": {"en": "People served"},
                "measure": "unit",
                "baseline": {"value": "0", "date": "2026-01-01"},
                "targets": [{"value": "5000", "date": "2028-12-31"}],
            }
        ],
    }
    body.update(overrides)
    return body


def issue_keys(batch: Batch, *principals: Principal) -> None:
    """Issue the principals' keys on the log, as the local operator (no secrets: tests act
    through the ledger as those principals)."""
    for principal in principals:
        body = {
            "key_id": principal.key_id,
            "role": principal.role,
            "network_id": principal.network_id,
            "label": "test key",
        }
        batch.execute("issue_key", OPERATOR, body)


def register_reference(services: Services, areas: tuple[str, ...] = ("housing", "health")) -> None:
    """Register the seed's declaration (marrakech-2018) and ``areas`` on the log (ADR 0014)."""
    with services.ledger.batch() as batch:
        register_reference_seed(batch, ADMIN, areas)


def register_basics(services: Services) -> None:
    with services.ledger.batch() as batch:
        issue_keys(batch, ADMIN, VALIDATOR)
        batch.execute("register_network", ADMIN, {"id": "uclg", "name": {"en": "UCLG"}})
        batch.execute("register_network", ADMIN, {"id": "metropolis", "name": {"en": "Metropolis"}})
        batch.execute(
            "register_city",
            ADMIN,
            {"id": "ma-marrakech", "name": {"en": "Marrakech"}, "country": "MA"},
        )
        batch.execute(
            "register_city", ADMIN, {"id": "sn-dakar", "name": {"en": "Dakar"}, "country": "SN"}
        )
        batch.execute("join_network", ADMIN, {"city_id": "ma-marrakech"}, target="uclg")
        batch.execute("join_network", ADMIN, {"city_id": "sn-dakar"}, target="metropolis")
        issue_keys(batch, UCLG, METROPOLIS)


def submit_pledge(services: Services, **overrides: Any) -> str:
    with services.ledger.batch() as batch:
        result = batch.execute("submit_pledge", UCLG, pledge_body(**overrides))
    assert result.pledge_id is not None
    return result.pledge_id


def event_count(services: Services) -> int:
    return services.store.max_notification_id()
