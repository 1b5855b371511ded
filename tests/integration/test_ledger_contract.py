"""The ledger's contract, run against every backend (SQLite file, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete

from api.bootstrap import Services, bootstrap
from domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound, NotPermitted
from ledger.clock import SteppingClock
from ledger.database import idempotency_keys
from ledger.errors import ConcurrencyConflict, IdempotencyKeyReused, StoreUnavailable
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    VALIDATOR,
    event_count,
    pledge_body,
    register_basics,
    submit_pledge,
)


def test_appended_envelopes_are_stored_byte_for_byte_in_notification_order(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    stored = services.store.notifications(after=0, limit=100)
    assert [s.type for s in stored][-1] == "pledge.submitted"
    stream = services.store.read_stream(f"pledge:{pledge_id}")
    assert [e.raw for e in stream] == [s.raw for s in stored if s.stream_id == stream[0].stream_id]
    ids = [s.notification_id for s in stored]
    assert ids == sorted(ids)


@pytest.mark.parametrize(("after", "limit", "stop"), [(0, 100, None), (3, 2, None), (2, 100, 5)])
def test_the_log_read_through_a_connection_equals_the_recorders_read(
    services: Services, after: int, limit: int, stop: int | None
) -> None:
    register_basics(services)
    submit_pledge(services)
    expected = services.store.notifications(after=after, limit=limit, stop=stop)
    with services.engine.connect() as connection:
        got = services.store.notifications_on(connection, after=after, limit=limit, stop=stop)
    assert got == expected
    assert got


def test_a_log_read_through_a_connection_to_a_database_without_the_store_is_refused(
    services: Services, tmp_path: Path
) -> None:
    elsewhere = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with elsewhere.connect() as connection, pytest.raises(StoreUnavailable, match="cannot read"):
        services.store.notifications_on(connection, after=0, limit=10)
    elsewhere.dispose()


def test_lifecycle_through_the_ledger_reaches_the_expected_state(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    ledger = services.ledger
    with ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=pledge_id,
        )
    with ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"},
            target=pledge_id,
            expected_version=2,
        )
    state = ledger.pledge_state(pledge_id)
    assert state.status == "awaiting_validation"
    assert state.content.ends_on.isoformat() == "2029-06-30"
    assert services.store.stream_version(f"pledge:{pledge_id}") == 3


def test_stale_expected_version_is_refused_and_stores_nothing(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    before = event_count(services)
    with pytest.raises(ConcurrencyConflict) as caught, services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "x"},
            target=pledge_id,
            expected_version=7,
        )
    assert (caught.value.expected, caught.value.actual) == (7, 1)
    assert event_count(services) == before


BAD_COMMANDS: list[tuple[str, Callable[[Any, str], object], type[DomainError]]] = [
    (
        "unknown taxonomy code",
        lambda b, _: b.execute("submit_pledge", UCLG, pledge_body(gcm_objectives=[24])),
        InvalidInput,
    ),
    (
        "city not a member",
        lambda b, _: b.execute("submit_pledge", UCLG, pledge_body(cities=["sn-dakar"])),
        NotPermitted,
    ),
    (
        "float indicator value",
        lambda b, p: b.execute(
            "report_progress",
            UCLG,
            {
                "period": {"start": "2026-01-01", "end": "2026-02-01"},
                "stage": "in_progress",
                "observations": [
                    {"indicator_id": "people-served", "value": 12.5, "date": "2026-02-01"}
                ],
            },
            target=p,
        ),
        InvalidInput,
    ),
    (
        "dates out of order",
        lambda b, _: b.execute("submit_pledge", UCLG, pledge_body(ends_on="2025-01-01")),
        InvalidInput,
    ),
    (
        "other network amends",
        lambda b, p: b.execute(
            "amend_pledge",
            METROPOLIS,
            {"changes": {"ends_on": "2029-01-01"}, "reason": "x"},
            target=p,
        ),
        NotPermitted,
    ),
    (
        "network validates",
        lambda b, p: b.execute(
            "validate_pledge", UCLG, {"decision": "validated", "criteria": ["specific"]}, target=p
        ),
        NotPermitted,
    ),
    (
        "unknown pledge",
        lambda b, _: b.execute(
            "withdraw_pledge", UCLG, {"reason": "x"}, target="7d0c3c3e-0000-4000-8000-000000000000"
        ),
        NotFound,
    ),
    (
        "malformed pledge id",
        lambda b, _: b.execute("withdraw_pledge", UCLG, {"reason": "x"}, target="not-a-uuid"),
        NotFound,
    ),
]


@pytest.mark.parametrize(
    ("name", "command", "error"), BAD_COMMANDS, ids=[c[0] for c in BAD_COMMANDS]
)
def test_a_rejected_command_leaves_the_event_count_unchanged(
    services: Services, name: str, command: Callable[[Any, str], object], error: type[DomainError]
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    before = event_count(services)
    with pytest.raises(error), services.ledger.batch() as batch:
        command(batch, pledge_id)
    assert event_count(services) == before


def test_a_batch_is_stored_all_or_nothing(services: Services) -> None:
    register_basics(services)
    before = event_count(services)

    def good_then_bad() -> None:
        with services.ledger.batch() as batch:
            batch.execute("submit_pledge", UCLG, pledge_body())
            batch.execute("submit_pledge", UCLG, pledge_body(gcm_objectives=[]))

    with pytest.raises(InvalidInput):
        good_then_bad()
    assert event_count(services) == before


def test_nothing_but_an_erratum_follows_a_withdrawn_pledge(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    with services.ledger.batch() as batch:
        batch.execute("withdraw_pledge", UCLG, {"reason": "No funding"}, target=pledge_id)
    first = services.store.read_stream(f"pledge:{pledge_id}")[0].event_id
    with pytest.raises(InvalidTransition), services.ledger.batch() as batch:
        batch.execute("close_pledge", UCLG, {"outcome": "fulfilled"}, target=pledge_id)
    with services.ledger.batch() as batch:
        batch.execute(
            "record_erratum", UCLG, {"corrects_event_id": first, "note": "Typo"}, target=pledge_id
        )
    assert services.store.stream_version(f"pledge:{pledge_id}") == 3


def test_retry_with_the_same_idempotency_key_stores_nothing_and_answers_the_first_result(
    services: Services,
) -> None:
    register_basics(services)
    with services.ledger.batch() as batch:
        first = batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key="req-1")
    count = event_count(services)
    with services.ledger.batch() as batch:
        again = batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key="req-1")
    assert event_count(services) == count
    assert again.replayed
    assert (again.pledge_id, again.events) == (first.pledge_id, first.events)


def test_idempotency_key_reused_for_another_request_is_refused(services: Services) -> None:
    register_basics(services)
    with services.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key="req-1")
    count = event_count(services)
    with pytest.raises(IdempotencyKeyReused), services.ledger.batch() as batch:
        batch.execute(
            "submit_pledge", UCLG, pledge_body(title={"en": "Another"}), idempotency_key="req-1"
        )
    assert event_count(services) == count


def test_retry_after_a_crash_before_the_idempotency_record_is_recognised(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    amendment = {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"}
    with services.ledger.batch() as batch:
        first = batch.execute(
            "amend_pledge", UCLG, amendment, target=pledge_id, idempotency_key="amend-1"
        )
    with services.engine.begin() as connection:  # the process died before recording the key
        connection.execute(delete(idempotency_keys))
    count = event_count(services)
    with services.ledger.batch() as batch:
        again = batch.execute(
            "amend_pledge", UCLG, amendment, target=pledge_id, idempotency_key="amend-1"
        )
    assert event_count(services) == count
    assert again.events == first.events
    assert again.replayed


def test_a_second_process_sees_what_the_first_wrote(
    services: Services, settings: LedgerSettings, clock: SteppingClock
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    services.ledger.pledge_state(pledge_id)  # warm the first process's cache
    with bootstrap(settings, clock=clock) as other, other.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=pledge_id,
        )
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "x"},
            target=pledge_id,
        )
    state = services.ledger.pledge_state(pledge_id)
    assert state.status == "awaiting_validation"
    assert state.ever_validated
    assert services.store.stream_version(f"pledge:{pledge_id}") == 3


def test_registry_commands_are_refused_to_non_admins(services: Services) -> None:
    with pytest.raises(NotPermitted), services.ledger.batch() as batch:
        batch.execute(
            "register_city", UCLG, {"id": "ma-rabat", "name": {"en": "Rabat"}, "country": "MA"}
        )
    assert event_count(services) == 0


def test_events_carry_principal_clock_and_cities(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    [envelope] = services.store.read_stream(f"pledge:{pledge_id}")
    assert envelope.recorded_by == "uclg-key"
    assert envelope.on_behalf_of == ("ma-marrakech",)
    assert envelope.recorded_at.startswith("2026-03-01T09:")
    assert ADMIN.key_id != envelope.recorded_by


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_an_idempotency_key_outside_1_to_256_characters_is_refused(
    services: Services, key: str
) -> None:
    register_basics(services)
    before = event_count(services)
    with pytest.raises(InvalidInput, match="1 to 256"), services.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key=key)
    assert event_count(services) == before


def test_the_sqlite_recorder_pool_waits_as_long_as_the_configured_lock_timeout(
    tmp_path: Path,
) -> None:
    # A reader queued behind a writer must not give up before that writer may (ADR 0008).
    settings = LedgerSettings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", sqlite_lock_timeout_seconds=7
    )
    store = EventStore(settings)
    try:
        assert store.recorder.datastore.pool.pool_timeout == 7.0  # type: ignore[attr-defined]
    finally:
        store.close()
