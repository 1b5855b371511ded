"""Real contention: one winner among conflicting writers, one first result among retries, and
a view batch that holds the write lock while writers queue."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.synchronize import Barrier as ProcessBarrier
from multiprocessing.synchronize import Lock as ProcessLock
from typing import Any

import pytest

from api.bootstrap import Services, bootstrap
from ledger.clock import SeededIds, SteppingClock
from ledger.errors import ConcurrencyConflict
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode, Written
from projections.runner import VIEWS, claim_position, notified_page
from tests.conftest import sqlite_settings
from tests.integration.ledger_scenario import (
    ADMIN,
    UCLG,
    event_count,
    pledge_body,
    register_basics,
    submit_pledge,
)

WRITERS = 8


def test_eight_writers_amending_from_one_version_give_one_winner_and_no_gaps(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    stream_id = f"pledge:{pledge_id}"
    start = threading.Barrier(WRITERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def amend(n: int) -> None:
        start.wait()
        try:
            with services.ledger.batch() as batch:
                batch.execute(
                    "amend_pledge",
                    UCLG,
                    {"changes": {"ends_on": f"2029-0{n + 1}-15"}, "reason": f"writer {n}"},
                    target=pledge_id,
                    expected_version=1,
                )
            outcome = "stored"
        except ConcurrencyConflict:
            outcome = "conflict"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=amend, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * (WRITERS - 1) + ["stored"]
    versions = [e.stream_version for e in services.store.read_stream(stream_id)]
    assert versions == [1, 2]
    # The log integrates the winner and nothing else, gaplessly.
    size = services.log.integrate()
    assert [leaf.leaf_index for leaf in services.log.leaves(0, size)] == list(range(size))


def assert_one_first_result(services: Services, answers: list[Written]) -> None:
    """Every caller got the same result and receipts; one of them stored it, once."""
    assert len(answers) == WRITERS
    first = answers[0]
    for answer in answers:
        assert answer.result.pledge_id == first.result.pledge_id
        assert answer.result.events == first.result.events
        assert answer.receipts == first.receipts
    assert [answer.result.replayed for answer in answers].count(False) <= 1
    assert first.result.pledge_id is not None
    assert len(services.store.read_stream(f"pledge:{first.result.pledge_id}")) == 1
    assert len(first.receipts) == 1


def test_eight_threads_retrying_one_idempotency_key_all_get_the_first_result(
    services: Services,
) -> None:
    register_basics(services)
    start = threading.Barrier(WRITERS)
    answers: list[Written] = []
    errors: list[BaseException] = []

    def submit() -> None:
        start.wait()
        try:
            answers.append(
                services.ledger.write(
                    "submit_pledge", UCLG, pledge_body(), idempotency_key="retried-1"
                )
            )
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert_one_first_result(services, answers)


def submit_in_a_process(
    settings: LedgerSettings, starting: ProcessLock, start: ProcessBarrier, answers: Any, key: str
) -> None:
    """One of several processes sending the same keyed request at once (spawned: no state
    shared with the test's process but the database)."""
    try:
        # Only the writes race here: concurrent start-ups are another test's subject.
        with starting:
            services = bootstrap(settings)
        with services:
            start.wait(timeout=60)
            answers.put(
                services.ledger.write("submit_pledge", UCLG, pledge_body(), idempotency_key=key)
            )
    except BaseException as error:  # the test reports it
        answers.put(repr(error))


@pytest.mark.slow
def test_eight_processes_retrying_one_idempotency_key_all_get_the_first_result(
    services: Services, settings: LedgerSettings
) -> None:
    register_basics(services)
    context = multiprocessing.get_context("spawn")
    starting = context.Lock()
    start = context.Barrier(WRITERS)
    answers = context.Queue()
    processes = [
        context.Process(
            target=submit_in_a_process, args=(settings, starting, start, answers, "retried-2")
        )
        for _ in range(WRITERS)
    ]
    for process in processes:
        process.start()
    received = [answers.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [answer for answer in received if not isinstance(answer, Written)] == []
    assert_one_first_result(services, received)


class WatchedLock:
    """Stands in for the recorder pool's writer lock and lets the test wait until a number of
    writers have asked for it (the second one asks while holding the pool's queue)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._asked = 0
        self._changed = threading.Condition()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._changed:
            self._asked += 1
            self._changed.notify_all()
        acquired: bool = self._inner.acquire(blocking, timeout)
        return acquired

    def release(self) -> None:
        self._inner.release()

    def wait_for_askers(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._asked >= count, timeout)


def test_on_sqlite_a_view_batch_holding_the_write_lock_reads_the_log_while_writers_queue(
    tmp_path: Any, clock: SteppingClock
) -> None:
    """A projection batch takes the database's write lock before it reads the log. Writers that
    queue meanwhile (the first holds the recorder's one writer slot and waits for that lock, the
    second waits for the slot while holding the pool's queue) must not stop the batch from
    reading: it reads through its own connection, commits, and then both writers land. With the
    log read through the recorder's pool instead, all three waited out their timeouts."""
    settings = sqlite_settings(tmp_path).model_copy(update={"sqlite_lock_timeout_seconds": 3})
    with bootstrap(
        settings, clock=clock, ids=SeededIds(11), write_mode=WriteMode.APPEND_ONLY
    ) as services:
        register_basics(services)
        submit_pledge(services)
        services.views.catch_up()
        head = event_count(services)
        pool = services.store.recorder.datastore.pool  # type: ignore[attr-defined]
        watched = WatchedLock(pool._writer_lock)
        pool._writer_lock = watched
        errors: list[BaseException] = []

        def write(city: str) -> None:
            try:
                services.ledger.write(
                    "register_city", ADMIN, {"id": city, "name": {"en": city}, "country": "FR"}
                )
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

        writers = [threading.Thread(target=write, args=(c,)) for c in ("fr-lyon", "fr-lille")]
        with services.engine.begin() as connection:
            claim_position(connection, VIEWS)
            for writer in writers:
                writer.start()
            assert watched.wait_for_askers(2, timeout=30), "the writers never queued"
            page = notified_page(services.store, head, 100, connection=connection)
            assert page == []  # the writers wait for this transaction
        for writer in writers:
            writer.join(timeout=30)
        assert errors == []
        assert event_count(services) == head + 2
        assert services.views.catch_up() == 2


@pytest.mark.postgres
def test_on_postgresql_writers_commit_while_a_view_batch_holds_its_position(
    postgres_settings: LedgerSettings, clock: SteppingClock
) -> None:
    """PostgreSQL's writers do not wait for a projection batch: they commit while it holds its
    position row, and the batch's own connection reads what they wrote."""
    with bootstrap(
        postgres_settings, clock=clock, ids=SeededIds(11), write_mode=WriteMode.APPEND_ONLY
    ) as services:
        register_basics(services)
        submit_pledge(services)
        services.views.catch_up()
        head = event_count(services)
        with services.engine.begin() as connection:
            claim_position(connection, VIEWS)
            for city in ("fr-lyon", "fr-lille"):
                writer = threading.Thread(
                    target=services.ledger.write,
                    args=(
                        "register_city",
                        ADMIN,
                        {"id": city, "name": {"en": city}, "country": "FR"},
                    ),
                )
                writer.start()
                writer.join(timeout=30)
                assert not writer.is_alive()
            page = notified_page(services.store, head, 100, connection=connection)
            assert [n.envelope.stream_id for n in page] == ["city:fr-lyon", "city:fr-lille"]
        assert services.views.catch_up() == 2
