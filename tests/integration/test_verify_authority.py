"""The auditor's authority check, attacked: events appended past the ledger's own checks (a
compromised or buggy writer) are signed into the log, and ``verify`` must name them.

Each attack seals an envelope by hand, appends it straight to the event store, lets the log
integrate and sign it, exports the bundle and verifies it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from api.bootstrap import Services
from domain.events import NewEvent, PledgeContent, PledgeSubmitted, PledgeWithdrawn
from domain.keys import OPERATOR
from ledger.api_keys import revoke_key
from ledger.bundle import export_bundle
from ledger.envelope import seal
from ledger.verify import VerificationResult, verify_bundle
from tests.integration.ledger_scenario import (
    METROPOLIS,
    UCLG,
    VALIDATOR,
    pledge_body,
    register_basics,
    submit_pledge,
)

RECORDED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def append_forged(
    services: Services, new_event: NewEvent, stream_id: str, version: int, recorded_by: str
) -> tuple[int, str]:
    """Append one hand-sealed envelope past the ledger; answer its leaf index and event id."""
    event_id = str(uuid.uuid4())
    envelope = seal(
        new_event,
        event_id=event_id,
        stream_id=stream_id,
        stream_version=version,
        recorded_at=RECORDED_AT,
        recorded_by=recorded_by,
    )
    services.store.append([envelope])
    services.log.integrate()
    return services.log.leaf(event_id).leaf_index, event_id


def submission(network_id: str = "uclg") -> tuple[NewEvent, str]:
    pledge_id = str(uuid.uuid4())
    body = pledge_body(network_id=network_id)
    del body["network_id"]
    content = PledgeContent.model_validate(body)
    payload = PledgeSubmitted(pledge_id=pledge_id, network_id=network_id, content=content)
    return NewEvent(payload, on_behalf_of=content.cities), f"pledge:{pledge_id}"


def verified(services: Services, directory: Path) -> VerificationResult:
    services.log.sign(wait=False, force=True)
    export_bundle(services.log, directory, vkey=services.log.signer.vkey)
    return verify_bundle(directory)


def test_a_store_whose_writers_all_had_authority_verifies(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    services.ledger.write(
        "validate_pledge",
        VALIDATOR,
        {"decision": "validated", "criteria": ["specific"]},
        target=pledge_id,
    )
    revoke_key(services.ledger, OPERATOR, VALIDATOR.key_id)

    result = verified(services, tmp_path / "bundle")

    assert result.ok, result.failure
    assert result.authority_checked


def test_an_event_recorded_by_an_unknown_key_fails_naming_it(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    new_event, stream_id = submission()
    leaf, event_id = append_forged(services, new_event, stream_id, 1, "ghost-key")

    result = verified(services, tmp_path / "bundle")

    assert result.failure is not None
    assert result.failure.where == f"entry {leaf} (event {event_id})"
    assert "recorded by key ghost-key, which no earlier entry issued" in result.failure.problem


def test_an_event_recorded_by_a_key_of_another_network_fails_naming_it(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    new_event, stream_id = submission("uclg")
    leaf, event_id = append_forged(services, new_event, stream_id, 1, METROPOLIS.key_id)

    result = verified(services, tmp_path / "bundle")

    assert result.failure is not None
    assert result.failure.where == f"entry {leaf} (event {event_id})"
    assert f"key {METROPOLIS.key_id} of network metropolis" in result.failure.problem


def test_a_withdrawal_by_another_network_of_a_pledge_fails_naming_it(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    withdrawal = NewEvent(PledgeWithdrawn(reason="Not ours to end"))
    leaf, event_id = append_forged(
        services, withdrawal, f"pledge:{pledge_id}", 2, METROPOLIS.key_id
    )

    result = verified(services, tmp_path / "bundle")

    assert result.failure is not None
    assert result.failure.where == f"entry {leaf} (event {event_id})"
    assert "(only uclg may)" in result.failure.problem


def test_an_event_recorded_after_its_keys_revocation_fails_naming_it(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    revocation = revoke_key(services.ledger, OPERATOR, UCLG.key_id, "Leaked")
    revoked_at = services.log.leaf(revocation.result.events[0].event_id).leaf_index
    withdrawal = NewEvent(PledgeWithdrawn(reason="Too late"))
    leaf, event_id = append_forged(services, withdrawal, f"pledge:{pledge_id}", 2, UCLG.key_id)

    result = verified(services, tmp_path / "bundle")

    assert result.failure is not None
    assert result.failure.where == f"entry {leaf} (event {event_id})"
    assert result.failure.problem == (
        f"recorded by key {UCLG.key_id} after its revocation at entry {revoked_at}"
    )


def test_a_pledge_submitted_by_a_validator_fails_naming_it(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    new_event, stream_id = submission()
    leaf, event_id = append_forged(services, new_event, stream_id, 1, VALIDATOR.key_id)

    result = verified(services, tmp_path / "bundle")

    assert result.failure is not None
    assert result.failure.where == f"entry {leaf} (event {event_id})"
    assert result.failure.problem == (
        f"recorded by validator key {VALIDATOR.key_id}, which may not record pledge.submitted"
    )


def test_a_pledge_submitted_by_the_operator_fails_too(services: Services, tmp_path: Path) -> None:
    register_basics(services)
    new_event, stream_id = submission()
    leaf, _ = append_forged(services, new_event, stream_id, 1, OPERATOR.key_id)

    result = verified(services, tmp_path / "bundle")

    assert result.failure is not None
    assert result.failure.where.startswith(f"entry {leaf} ")
