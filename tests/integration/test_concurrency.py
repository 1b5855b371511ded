"""Optimistic concurrency under real contention: one winner, the others told, no gaps."""

from __future__ import annotations

import threading
import time

from api.bootstrap import Services, bootstrap
from ledger.clock import SeededIds, SteppingClock
from ledger.errors import ConcurrencyConflict
from ledger.settings import LedgerSettings
from projections.runner import VIEWS, claim_position, notified_page
from tests.integration.ledger_scenario import (
    ADMIN,
    UCLG,
    event_count,
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
                batch.amend_pledge(
                    UCLG,
                    pledge_id,
                    {"changes": {"ends_on": f"2029-0{n + 1}-15"}, "reason": f"writer {n}"},
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


def test_a_view_batch_holding_the_write_lock_reads_the_log_while_writers_queue(
    settings: LedgerSettings, clock: SteppingClock
) -> None:
    """A projection batch takes the database's write lock before it reads the log. Writers that
    queue meanwhile (one waiting for that lock, the next for the recorder's one writer slot)
    must not stop the batch from reading: it reads through its own connection, commits, and
    then both writers land. With the log read through the recorder's pool instead, all three
    waited out their timeouts and failed."""
    settings = settings.model_copy(update={"sqlite_lock_timeout_seconds": 3})
    with bootstrap(settings, clock=clock, ids=SeededIds(11)) as services:
        register_basics(services)
        submit_pledge(services)
        services.ledger.after_append = None  # the writers below must not catch the views up
        head = event_count(services)
        errors: list[BaseException] = []

        def write(city: str) -> None:
            try:
                with services.ledger.batch() as batch:
                    batch.register_city(ADMIN, {"id": city, "name": {"en": city}, "country": "FR"})
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

        writers = [threading.Thread(target=write, args=(c,)) for c in ("fr-lyon", "fr-lille")]
        with services.engine.begin() as connection:
            claim_position(connection, VIEWS)
            for writer in writers:
                writer.start()
            time.sleep(0.5)  # both writers are now queued behind this transaction
            page = notified_page(services.store, 0, 100, connection=connection)
            # On SQLite the writers wait for this transaction; PostgreSQL lets them commit.
            assert page[-1].notification_id >= head
        for writer in writers:
            writer.join(timeout=30)
        assert errors == []
        assert event_count(services) == head + 2
        assert services.views.catch_up() == 2
