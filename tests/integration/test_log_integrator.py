"""The integrator: gapless leaves in notification order, exactly once, one integrator at a time.

Runs on SQLite and PostgreSQL (the ``settings`` fixture). Events are synthetic canonical
envelopes appended straight to the event store, so these tests depend on nothing but the store
and the log.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

import ledger.log
from api.bootstrap import Services, bootstrap
from domain.events import CityRegistered, NewEvent
from ledger.clock import SteppingClock
from ledger.database import log_checkpoints
from ledger.envelope import Envelope, seal
from ledger.errors import ConcurrencyConflict
from ledger.log import LogRewritten
from ledger.merkle import InMemoryTree
from ledger.settings import LedgerSettings
from tests.conftest import sqlite_settings
from tests.integration.synthetic_log import synthetic_envelope, synthetic_envelopes

STREAMS = 7


def envelope(number: int, *, stream: int | None = None, version: int | None = None) -> Envelope:
    return synthetic_envelope(number, streams=STREAMS, stream=stream, version=version)


def envelopes(first: int, count: int) -> list[Envelope]:
    return synthetic_envelopes(first, count, streams=STREAMS)


def leaf_hash(raw: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + raw).digest()


def assert_log_mirrors_the_store(services: Services) -> None:
    """Leaf i is the i-th stored event in notification order, each exactly once, no gaps."""
    stored = list(services.store.iter_notifications())
    size = services.log.tree_size()
    leaves = services.log.leaves(0, size + 10)

    assert size == len(stored)
    assert [leaf.leaf_index for leaf in leaves] == list(range(size))
    assert [leaf.notification_id for leaf in leaves] == [s.notification_id for s in stored]
    assert [leaf.leaf_hash for leaf in leaves] == [leaf_hash(s.raw) for s in stored]
    assert services.log.root(size) == InMemoryTree(leaf_hash(s.raw) for s in stored).root()


@pytest.fixture
def second(settings: LedgerSettings) -> Iterator[Services]:
    """Another process on the same database: its own engine, store and log."""
    with bootstrap(settings) as other:
        yield other


# --- order and gaps ---------------------------------------------------------------------------


def test_leaves_follow_notification_order_across_appends_and_rejected_appends(
    services: Services,
) -> None:
    services.store.append(envelopes(0, 10))
    with pytest.raises(ConcurrencyConflict):
        services.store.append([envelope(999, stream=0, version=1)])
    services.store.append(envelopes(10, 5))
    services.log.integrate(batch_size=4)
    services.store.append(envelopes(15, 6))

    assert services.log.integrate(batch_size=4) == 21
    assert_log_mirrors_the_store(services)


@pytest.mark.postgres
def test_notification_id_burned_by_a_rejected_append_leaves_no_gap_in_leaf_indices(
    postgres_settings: LedgerSettings,
) -> None:
    with bootstrap(postgres_settings) as services:
        before = services.store.append(envelopes(0, 3))
        with pytest.raises(ConcurrencyConflict):
            services.store.append([envelope(999, stream=0, version=1)])
        after = services.store.append(envelopes(3, 3))
        services.log.integrate()

        leaves = services.log.leaves(0, 6)

        assert after[0] > before[-1] + 1, "PostgreSQL burns a notification id on a rejected save"
        assert [leaf.leaf_index for leaf in leaves] == [0, 1, 2, 3, 4, 5]
        assert [leaf.notification_id for leaf in leaves] == before + after
        assert_log_mirrors_the_store(services)


# --- crash and restart ------------------------------------------------------------------------


class SimulatedCrash(Exception):
    pass


def crash_when_the_position_moves(*args: Any, **kwargs: Any) -> Any:
    """Stands in for ``sqlalchemy.update``, which the integrator calls last in each batch
    after the first: the batch's leaves and subtrees are written, its position is not."""
    raise SimulatedCrash


def test_restarted_integrator_resumes_after_a_crash_mid_batch(
    services: Services, settings: LedgerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.store.append(envelopes(0, 50))
    monkeypatch.setattr(ledger.log, "update", crash_when_the_position_moves)

    with pytest.raises(SimulatedCrash):
        services.log.integrate(batch_size=20)

    assert services.log.tree_size() == 20
    assert len(services.log.leaves(0, 100)) == 20, "the crashed batch must leave no leaves"
    monkeypatch.undo()
    with bootstrap(settings) as restarted:
        assert restarted.log.integrate(batch_size=20) == 50
        assert_log_mirrors_the_store(restarted)


def test_integrator_that_crashed_mid_batch_recovers_in_the_same_process(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.store.append(envelopes(0, 50))
    monkeypatch.setattr(ledger.log, "update", crash_when_the_position_moves)
    with pytest.raises(SimulatedCrash):
        services.log.integrate(batch_size=20)
    monkeypatch.undo()

    assert services.log.integrate(batch_size=20) == 50
    assert_log_mirrors_the_store(services)


# --- one integrator at a time -----------------------------------------------------------------


def test_two_integrators_in_parallel_build_one_gapless_log(
    services: Services, second: Services
) -> None:
    services.store.append(envelopes(0, 400))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def integrate(integrator: Services) -> None:
        start.wait()
        try:
            integrator.log.integrate(batch_size=1)
        except BaseException as error:  # reported below, with the other thread's outcome
            errors.append(error)

    threads = [threading.Thread(target=integrate, args=(s,)) for s in (services, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert_log_mirrors_the_store(services)
    assert second.log.root(400) == services.log.root(400)


def test_sqlite_integrator_holds_its_file_lock_until_the_batch_commits(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    lock_file = Path(f"{settings.sqlite_path}.integrator.lock")
    held_at_commit: list[bool] = []

    def probe_lock(_: object) -> None:
        fd = os.open(lock_file, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held_at_commit.append(True)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            held_at_commit.append(False)
        finally:
            os.close(fd)

    with bootstrap(settings) as services:
        services.store.append(envelopes(0, 3))
        event.listen(services.engine, "commit", probe_lock)
        services.log.integrate()

    assert held_at_commit, "the integrator committed nothing"
    assert all(held_at_commit)


# --- checkpoints: one root per size -----------------------------------------------------------


def test_log_refuses_to_sign_a_second_root_for_a_signed_size(services: Services) -> None:
    services.store.append(envelopes(0, 12))
    signed = services.log.sign(wait=False, force=True)
    forged_root = hashlib.sha256(b"another history").digest()

    with pytest.raises(LogRewritten):
        services.log._store_checkpoint(signed.size, forged_root)

    assert services.log.checkpoints() == [signed]


def test_signing_again_at_a_signed_size_returns_the_signed_checkpoint(services: Services) -> None:
    services.store.append(envelopes(0, 12))
    signed = services.log.sign(wait=False, force=True)

    assert services.log.sign(wait=False, force=True) == signed
    assert services.log._store_checkpoint(signed.size, signed.root) == signed
    assert services.log.checkpoints() == [signed]


def test_two_processes_signing_one_size_store_one_checkpoint(
    services: Services, second: Services
) -> None:
    services.store.append(envelopes(0, 12))
    services.log.integrate()
    interleaved: list[object] = []

    def other_signs_first(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        # Deterministic interleaving: the other process signs the same size between this
        # process's check for an existing checkpoint and its insert.
        if not interleaved and statement.lstrip().upper().startswith("INSERT INTO LOG_CHECKPOINTS"):
            interleaved.append(second.log.sign(wait=False, force=True))

    event.listen(services.engine, "before_cursor_execute", other_signs_first)

    signed = services.log.sign(wait=False, force=True)

    assert interleaved == [signed]
    with services.engine.connect() as connection:
        assert connection.execute(select(log_checkpoints.c.tree_size)).scalars().all() == [12]


def test_a_stored_event_repeating_an_event_id_stops_the_integrator_with_a_clear_alarm(
    services: Services,
) -> None:
    first = envelopes(0, 3)
    services.store.append(first)
    services.log.integrate()
    repeated = seal(
        NewEvent(CityRegistered(city_id="zz-copy", name={"en": "Copy"}, country="MA")),
        event_id=first[0].event_id,
        stream_id="city:zz-copy",
        stream_version=1,
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        recorded_by="intruder",
    )
    services.store.append([repeated])
    with pytest.raises(LogRewritten, match="repeats event id"):
        services.log.integrate()
    assert services.log.tree_size() == 3


def test_checkpoints_are_batched_to_one_per_interval(
    settings: LedgerSettings, clock: SteppingClock
) -> None:
    hourly = settings.model_copy(update={"checkpoint_interval_seconds": 3600.0})
    with bootstrap(hourly, clock=clock) as wired:
        wired.store.append(envelopes(0, 10))
        first = wired.log.sign(wait=False, force=True)
        wired.store.append(envelopes(10, 10))
        within_the_hour = wired.log.sign(wait=False)
        clock.set(clock.now() + timedelta(hours=1, seconds=1))
        next_slot = wired.log.sign(wait=False)
        assert (first.size, within_the_hour.size, next_slot.size) == (10, 10, 20)
        assert [c.size for c in wired.log.checkpoints()] == [10, 20]
