"""The group committer: concurrent requests share one commit, one integration and one checkpoint,
and each succeeds or fails on its own. Run against every backend.

Requests are queued before the writer starts, so that it gathers them into one group
deterministically (no timing involved).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest

from api.bootstrap import Services, bootstrap, count_events
from domain.errors import InvalidInput, NotPermitted
from ledger.clock import SteppingClock, random_ids
from ledger.commands import Batch
from ledger.errors import ConcurrencyConflict, ConfigurationError
from ledger.group_commit import GroupCommitter, WriteRequest, WriterUnavailable
from ledger.log import TransparencyLog
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from ledger.write_path import Ledger, Written
from projections.runner import read_position
from tests.integration.ledger_scenario import (
    UCLG,
    event_count,
    pledge_body,
    register_basics,
    submit_pledge,
)

AMENDMENT = {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"}


def submitted(**overrides: object) -> WriteRequest:
    return WriteRequest("submit_pledge", UCLG, pledge_body(**overrides))


def amended(
    pledge_id: str, *, ends_on: str = "2029-06-30", expected_version: int | None = None
) -> WriteRequest:
    body = {"changes": {"ends_on": ends_on}, "reason": "Funding moved"}
    return WriteRequest(
        "amend_pledge", UCLG, body, target=pledge_id, expected_version=expected_version
    )


@pytest.fixture
def writer(services: Services) -> Iterator[GroupCommitter]:
    committer = GroupCommitter(services.ledger, read_models=services.views)
    yield committer
    committer.close()


def gathered(writer: GroupCommitter, *requests: WriteRequest) -> list[Future[Written]]:
    """Queue every request, then start the writer: it takes them all as one group."""
    futures = [writer.submit(request) for request in requests]
    writer.start()
    for future in futures:
        future.exception()  # wait for each answer, whatever it is
    return futures


def test_a_group_is_one_commit_one_integration_and_one_checkpoint(
    services: Services, writer: GroupCommitter
) -> None:
    register_basics(services)
    before = len(services.log.checkpoints())

    futures = gathered(writer, submitted(), submitted(), submitted())

    receipts = [future.result().receipts[0] for future in futures]
    assert writer.groups_committed == 1
    assert len(services.log.checkpoints()) == before + 1
    assert len({receipt.checkpoint for receipt in receipts}) == 1
    assert services.log.tree_size() == event_count(services)
    assert read_position(services.engine).events == event_count(services)


def test_a_refused_command_fails_alone_and_its_neighbours_commit(
    services: Services, writer: GroupCommitter
) -> None:
    register_basics(services)
    before = event_count(services)
    intruder = WriteRequest(
        "register_network", UCLG, {"id": "intruders", "name": {"en": "Intruders"}}
    )

    first, refused, malformed, last = gathered(
        writer, submitted(), intruder, submitted(gcm_objectives=[]), submitted()
    )

    assert isinstance(refused.exception(), NotPermitted)
    assert isinstance(malformed.exception(), InvalidInput)
    assert first.result().receipts
    assert last.result().receipts
    assert writer.groups_committed == 1
    assert event_count(services) == before + 2


def test_a_stale_expected_version_in_a_group_fails_alone(
    services: Services, writer: GroupCommitter
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)

    fresh, stale = gathered(
        writer, amended(pledge_id, expected_version=1), amended(pledge_id, expected_version=1)
    )

    assert fresh.result().result.stream_version == 2
    assert isinstance(stale.exception(), ConcurrencyConflict)


def test_the_same_key_twice_in_one_group_stores_once_with_one_receipt(
    services: Services, writer: GroupCommitter
) -> None:
    register_basics(services)
    before = event_count(services)
    keyed = WriteRequest("submit_pledge", UCLG, pledge_body(), idempotency_key="k-1")

    first, again = gathered(writer, keyed, keyed)

    assert again.result().result.replayed
    assert again.result().receipts == first.result().receipts
    assert event_count(services) == before + 1


def test_a_retry_in_a_later_group_gets_the_first_receipt(
    services: Services, writer: GroupCommitter
) -> None:
    register_basics(services)
    keyed = WriteRequest("submit_pledge", UCLG, pledge_body(), idempotency_key="k-2")
    [first] = gathered(writer, keyed)
    before = event_count(services)

    again = writer.write(keyed)

    assert again.result.replayed
    assert again.receipts == first.result().receipts
    assert event_count(services) == before


class RacedLedger:
    """The ledger, with another process's write landing between a batch's decisions and its
    commit: the commit then conflicts, as it would under two servers."""

    def __init__(self, ledger: Ledger, race: Callable[[], object]) -> None:
        self.ledger = ledger
        self.store: EventStore = ledger.store
        self.log: TransparencyLog = ledger.log
        self._race: Callable[[], object] | None = race

    def new_batch(self) -> Batch:
        return self.ledger.new_batch()

    def commit(self, batch: Batch) -> tuple[Written, ...]:
        if self._race is not None:
            race, self._race = self._race, None
            race()
        return self.ledger.commit(batch)


@pytest.fixture
def other_process(settings: LedgerSettings, clock: SteppingClock) -> Iterator[Services]:
    with bootstrap(settings, clock=clock, ids=random_ids) as other:
        yield other


def test_a_conflicting_commit_falls_back_to_one_by_one_and_only_the_stale_command_fails(
    services: Services, other_process: Services
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    other_pledge = submit_pledge(services)
    raced = RacedLedger(
        services.ledger,
        lambda: other_process.ledger.write("amend_pledge", UCLG, AMENDMENT, target=pledge_id),
    )
    writer = GroupCommitter(raced, read_models=services.views)
    try:
        stale, unrelated, blind = gathered(
            writer,
            amended(pledge_id, ends_on="2029-07-31", expected_version=1),
            amended(other_pledge),
            amended(pledge_id, ends_on="2029-09-30"),
        )
    finally:
        writer.close()

    assert isinstance(stale.exception(), ConcurrencyConflict)
    assert unrelated.result().result.stream_version == 2
    # Without an expected version the amendment is decided again on the stream as it now is.
    assert blind.result().result.stream_version == 3
    # (PostgreSQL's notification ids have a gap where the conflicting append rolled back.)
    assert services.log.tree_size() == count_events(services.engine, services.settings)


def test_closing_finishes_every_queued_request_and_refuses_new_ones(
    services: Services,
) -> None:
    register_basics(services)
    writer = GroupCommitter(services.ledger, read_models=services.views)
    queued = [writer.submit(submitted()) for _ in range(3)]
    writer.start()

    writer.close()

    assert all(future.result().receipts for future in queued)
    with pytest.raises(WriterUnavailable, match="shutting down"):
        writer.submit(submitted())


def test_a_full_queue_refuses_the_request_at_once(services: Services) -> None:
    writer = GroupCommitter(services.ledger, queue_size=1)
    writer.submit(submitted())
    try:
        with pytest.raises(WriterUnavailable, match="too many"):
            writer.submit(submitted())
    finally:
        writer.close()


def test_a_writer_closed_unstarted_refuses_what_was_queued(services: Services) -> None:
    writer = GroupCommitter(services.ledger)
    queued = writer.submit(submitted())
    writer.close()
    assert isinstance(queued.exception(), WriterUnavailable)


def test_a_cancelled_request_is_never_executed(services: Services, writer: GroupCommitter) -> None:
    register_basics(services)
    before = event_count(services)
    cancelled = writer.submit(submitted())
    assert cancelled.cancel()
    kept = writer.submit(submitted())
    writer.start()
    kept.result()
    assert event_count(services) == before + 1


def test_following_the_store_integrates_and_shows_another_process_s_events(
    services: Services, services_in: Callable[..., Services]
) -> None:
    from ledger.write_path import WriteMode

    appender = services_in(WriteMode.APPEND_ONLY)
    register_basics(appender)
    assert services.log.tree_size() == 0
    writer = GroupCommitter(services.ledger, read_models=services.views)

    writer.follow_store()

    count = event_count(services)
    latest = services.log.latest_checkpoint()
    assert services.log.tree_size() == count > 0
    assert latest is not None
    assert latest.size == count
    assert read_position(services.engine).events == count


def test_a_group_of_no_requests_is_refused(services: Services) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GroupCommitter(services.ledger, max_group=0)
    assert caught.value.field == "max_group"
