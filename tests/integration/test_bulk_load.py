"""The bulk write path (ADR 0018): released streams, and checkpoints of the loader's own edge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.bootstrap import Services, bootstrap
from domain.errors import DomainError
from domain.pledge import pledge_stream
from ledger.clock import SteppingClock
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from tests.integration.ledger_scenario import UCLG, VALIDATOR, pledge_body, register_basics


@pytest.fixture
def bulk(tmp_path: Path) -> Iterator[Services]:
    settings = LedgerSettings(
        database_url=f"sqlite:///{tmp_path / 'bulk.db'}", signing_key_file=tmp_path / "bulk.key"
    )
    clock = SteppingClock(datetime(2026, 3, 1, tzinfo=UTC), step=timedelta(milliseconds=1))
    with bootstrap(settings, clock=clock, write_mode=WriteMode.BULK_LOAD) as services:
        register_basics(services)
        yield services


def submit(bulk: Services) -> str:
    with bulk.ledger.batch() as batch:
        return batch.execute("submit_pledge", UCLG, pledge_body()).pledge_id or ""


def validate(bulk: Services, pledge_id: str) -> int:
    """Validate the pledge in a batch of its own; answers the event's stream version."""
    with bulk.ledger.batch() as batch:
        validated = batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=pledge_id,
        )
    return validated.events[0].stream_version


def test_a_released_pledge_is_read_again_from_the_store_and_decided_the_same(
    bulk: Services,
) -> None:
    pledge_id = submit(bulk)

    bulk.ledger.release([pledge_stream(pledge_id)])

    assert validate(bulk, pledge_id) == 2
    assert bulk.ledger.pledge_state(pledge_id).status == "validated"


def test_after_releasing_every_stream_the_ledger_still_decides_from_the_store(
    bulk: Services,
) -> None:
    pledge_id = submit(bulk)
    assert bulk.ledger.cache._get(pledge_stream(pledge_id)) is not None

    bulk.ledger.release_all()

    assert bulk.ledger.cache._get(pledge_stream(pledge_id)) is None
    assert validate(bulk, pledge_id) == 2
    # What was read back from the store is the validated pledge: it is not validated twice.
    with pytest.raises(DomainError):
        validate(bulk, pledge_id)


def test_every_bulk_commit_signs_the_root_the_stored_events_give(bulk: Services) -> None:
    for _ in range(3):
        with bulk.ledger.batch() as batch:
            for _ in range(5):
                batch.execute("submit_pledge", UCLG, pledge_body())

    checkpoints = bulk.log.checkpoints()

    assert [c.size for c in checkpoints][-3:] == [
        checkpoints[-3].size,
        checkpoints[-3].size + 5,
        checkpoints[-3].size + 10,
    ]
    for checkpoint in checkpoints:
        assert bulk.log.root(checkpoint.size) == checkpoint.root
    assert bulk.log.audit() == checkpoints[-1].size


def test_a_bulk_signature_after_another_signer_still_signs_the_stored_root(
    bulk: Services,
) -> None:
    with bulk.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, pledge_body())
    # Another process (a second log on the same store) integrates and signs more.
    with bootstrap(bulk.settings, write_mode=WriteMode.BULK_LOAD) as other:
        with other.ledger.batch() as batch:
            batch.execute("submit_pledge", UCLG, pledge_body())
        signed_elsewhere = other.log.latest_checkpoint()
    assert signed_elsewhere is not None

    with bulk.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, pledge_body())

    latest = bulk.log.latest_checkpoint()
    assert latest is not None
    assert latest.size == signed_elsewhere.size + 1
    assert bulk.log.root(latest.size) == latest.root
    assert bulk.log.audit() == latest.size
