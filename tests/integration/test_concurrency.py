"""Optimistic concurrency under real contention: one winner, the others told, no gaps."""

from __future__ import annotations

import threading

from api.bootstrap import Services
from ledger.errors import ConcurrencyConflict
from tests.integration.ledger_scenario import UCLG, register_basics, submit_pledge

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
