"""Keeping the views current: catch-up, restarts, a follower, rebuilds, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from api.bootstrap import Services
from ledger.envelope import open_envelope
from ledger.errors import CorruptEvent, StoreUnavailable
from ledger.write_path import WriteMode
from projections import ProjectionRunner, rebuild
from projections.errors import InvalidQuery, RebuildFailed
from projections.pledges import PledgeProjector, pledge
from projections.projector import ProjectionBatch
from projections.rebuild import RebuildProgress
from projections.registry import RegistryProjector
from projections.rollups import RollupProjector, rollup
from projections.runner import read_position
from projections.state import ViewState
from projections.tables import ViewTables, live_tables, read_snapshot
from tests.integration.ledger_scenario import (
    UCLG,
    VALIDATOR,
    event_count,
    register_basics,
    submit_pledge,
)

TODAY = date(2026, 3, 1)


def view_rows(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every view table, as text, sorted: two equal dumps are equal views."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                tuple(str(value) for value in row) for row in connection.execute(select(table))
            )
            for table in live_tables().all()
        }


@pytest.fixture
def services(services_in: Callable[[WriteMode], Services]) -> Services:
    """Writers that leave the views to the runner under test: a follower's view of them."""
    return services_in(WriteMode.BULK_LOAD)


def some_history(services: Services, pledges: int = 4) -> list[str]:
    """Events written by a process that does not keep the views current."""
    register_basics(services)
    ids = [submit_pledge(services) for _ in range(pledges)]
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=ids[0],
        )
        batch.execute(
            "report_progress",
            UCLG,
            {
                "period": {"start": "2026-01-01", "end": "2026-02-28"},
                "stage": "in_progress",
                "observations": [
                    {"indicator_id": "people-served", "value": "120", "date": "2026-02-28"}
                ],
            },
            target=ids[1],
        )
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"gcm_objectives": [2]}, "reason": "Scope"},
            target=ids[2],
        )
        batch.execute("withdraw_pledge", UCLG, {"reason": "No funding"}, target=ids[3])
    return ids


def rebuilt_rows(services: Services, workers: int = 1) -> dict[str, list[tuple[str, ...]]]:
    rebuild(services.engine, services.store, workers=workers)
    return view_rows(services.engine)


def test_catch_up_applies_every_event_once_and_records_its_position(services: Services) -> None:
    some_history(services)
    runner = ProjectionRunner(services.engine, services.store, batch_size=7)

    applied = runner.catch_up()

    assert applied == event_count(services)
    assert runner.position().events == applied
    assert runner.position().notification_id == services.store.max_notification_id()
    assert runner.catch_up() == 0


def test_catch_up_in_small_batches_with_restarts_equals_a_rebuild(services: Services) -> None:
    some_history(services)
    for batch_size in (1, 3, 2, 50):
        ProjectionRunner(services.engine, services.store, batch_size=batch_size).run_batch()
    ProjectionRunner(services.engine, services.store, batch_size=5).catch_up()
    incremental = view_rows(services.engine)

    assert incremental == rebuilt_rows(services)
    assert incremental["projection_pledges"]


class Explodes:
    """A projector that fails inside the given batch, after the projectors before it wrote."""

    def __init__(self, on_batch: int) -> None:
        self.on_batch = on_batch
        self.batches = 0

    def apply(self, connection: Connection, tables: ViewTables, batch: ProjectionBatch) -> None:
        self.batches += 1
        if self.batches == self.on_batch:
            raise RuntimeError("the follower was killed mid-batch")

    def load(self, connection: Connection, tables: ViewTables, state: ViewState) -> None:
        """Nothing to load."""


def test_a_follower_killed_mid_batch_resumes_with_nothing_lost_or_applied_twice(
    services: Services,
) -> None:
    some_history(services)
    projectors = (RegistryProjector(), PledgeProjector(), Explodes(on_batch=3), RollupProjector())
    doomed = ProjectionRunner(services.engine, services.store, projectors=projectors, batch_size=4)

    with pytest.raises(RuntimeError, match="killed mid-batch"):
        doomed.catch_up()

    assert read_position(services.engine).events == 8
    ProjectionRunner(services.engine, services.store, batch_size=4).catch_up()
    assert read_position(services.engine).events == event_count(services)
    assert view_rows(services.engine) == rebuilt_rows(services)


class StopsAfter(threading.Event):
    """A stop signal that lets the follower poll ``polls`` times, without ever sleeping."""

    def __init__(self, polls: int) -> None:
        super().__init__()
        self.polls = polls

    def wait(self, timeout: float | None = None) -> bool:
        self.polls -= 1
        if self.polls <= 0:
            self.set()
        return self.is_set()


def test_the_follower_picks_up_events_written_by_another_process(services: Services) -> None:
    some_history(services)

    ProjectionRunner(services.engine, services.store).follow(0.5, StopsAfter(polls=1))

    assert read_position(services.engine).events == event_count(services)


def test_the_follower_waits_out_an_unreachable_database(services: Services) -> None:
    some_history(services)

    class Flaky(ProjectionRunner):
        failures = 1

        def catch_up(
            self, until: int | None = None, *, progress: Callable[[int], None] | None = None
        ) -> int:
            if self.failures:
                self.failures -= 1
                raise StoreUnavailable("the database went away")
            return super().catch_up(until, progress=progress)

    Flaky(services.engine, services.store).follow(0.5, StopsAfter(polls=2))

    assert read_position(services.engine).events == event_count(services)


def test_the_receipted_write_mode_lets_a_request_read_its_own_write(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.RECEIPTED)
    register_basics(services)

    pledge_id = submit_pledge(services)

    with services.engine.connect() as connection:
        page = pledge(connection, pledge_id, today=TODAY, freshness_months=12)
    assert page is not None
    assert page.status == "awaiting_validation"


def test_a_rebuild_takes_in_events_appended_while_it_ran(services: Services) -> None:
    ids = some_history(services)
    ProjectionRunner(services.engine, services.store).catch_up()
    phases: list[RebuildProgress] = []
    late: list[str] = []

    def progress(step: RebuildProgress) -> None:
        phases.append(step)
        if step.phase == "write" and not late:
            late.append(submit_pledge(services))

    result = rebuild(services.engine, services.store, progress=progress)

    assert phases[0].phase == "scan"
    assert phases[-1].phase == "done"
    assert result.events == event_count(services)
    assert read_position(services.engine).events == event_count(services)
    with services.engine.connect() as connection:
        assert pledge(connection, late[0], today=TODAY, freshness_months=12) is not None
        assert pledge(connection, ids[0], today=TODAY, freshness_months=12) is not None
    assert view_rows(services.engine) == rebuilt_rows(services)


@pytest.mark.parametrize("workers", [1, 2])
def test_events_appended_to_streams_during_the_scan_are_taken_in_once(
    services: Services, workers: int
) -> None:
    ids = some_history(services, pledges=6)
    ProjectionRunner(services.engine, services.store).catch_up()
    appended: list[str] = []

    def progress(step: RebuildProgress) -> None:
        if step.phase == "scan" and not appended:  # the head is fixed; folding has begun
            appended.append(submit_pledge(services))
            with services.ledger.batch() as batch:
                for pledge_id in ids[4:]:
                    batch.execute(
                        "validate_pledge",
                        VALIDATOR,
                        {"decision": "validated", "criteria": ["specific"]},
                        target=pledge_id,
                    )

    rebuild(services.engine, services.store, progress=progress, workers=workers)

    assert appended
    assert read_position(services.engine).events == event_count(services)
    assert view_rows(services.engine) == rebuilt_rows(services)
    ProjectionRunner(services.engine, services.store).catch_up()
    assert view_rows(services.engine) == rebuilt_rows(services)


def test_a_rebuild_replaces_views_that_drifted_from_the_log(services: Services) -> None:
    some_history(services)
    ProjectionRunner(services.engine, services.store).catch_up()
    tables = live_tables()
    with services.engine.begin() as connection:
        connection.execute(tables.rollup_counters.update().values(value=999))
        connection.execute(tables.pledges.delete())

    rebuild(services.engine, services.store)

    with read_snapshot(services.engine) as connection:
        total: Any = rollup(connection, "all", "all", today=TODAY, freshness_months=12)
    assert total is not None
    assert total.pledges == 4
    assert len(view_rows(services.engine)["projection_pledges"]) == 4


def test_a_rebuild_in_several_processes_equals_one_in_a_single_process(
    services: Services,
) -> None:
    some_history(services, pledges=9)
    ProjectionRunner(services.engine, services.store, batch_size=3).catch_up()
    incremental = view_rows(services.engine)

    assert rebuilt_rows(services, workers=3) == incremental
    assert rebuilt_rows(services, workers=1) == incremental


@pytest.mark.parametrize("workers", [1, 2])
def test_a_rebuild_in_tiny_pages_and_chunks_equals_catch_up(
    services: Services, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # Pages of two events cut pledge streams in the middle; chunks of two pledges make every
    # worker write many times, interleaved with the other's.
    some_history(services, pledges=7)
    ProjectionRunner(services.engine, services.store, batch_size=5).catch_up()
    incremental = view_rows(services.engine)
    module = importlib.import_module("projections.rebuild")
    monkeypatch.setattr(module, "_PledgeOutput", _tiny_chunks(module._PledgeOutput))

    rebuild(services.engine, services.store, workers=workers, page_size=2)

    assert view_rows(services.engine) == incremental
    assert read_position(services.engine).events == event_count(services)


def _tiny_chunks(output: Any) -> Any:
    class TinyChunks(output):  # type: ignore[misc]
        def __init__(self, *args: Any) -> None:
            super().__init__(*args[:-1], 2)

    return TinyChunks


def test_a_failed_rebuild_worker_leaves_the_live_views_as_they_were(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    some_history(services)
    ProjectionRunner(services.engine, services.store).catch_up()
    before = view_rows(services.engine)

    module = importlib.import_module("projections.rebuild")
    read = module.read_envelope

    def corrupt(raw: bytes) -> Any:  # the workers fold the pledges; the parent, the registry
        if b'"stream_id":"pledge:' in raw:
            raise CorruptEvent("not an envelope")
        return read(raw)

    monkeypatch.setattr(module, "read_envelope", corrupt)

    with pytest.raises(RebuildFailed, match="not an envelope"):
        rebuild(services.engine, services.store, workers=2)

    assert view_rows(services.engine) == before
    assert read_position(services.engine).events == event_count(services)


def test_a_rebuild_in_several_processes_writes_only_the_default_views(
    services: Services,
) -> None:
    with pytest.raises(InvalidQuery, match="default views"):
        rebuild(services.engine, services.store, workers=2, projectors=[RollupProjector()])


def test_a_second_rebuild_is_refused_while_one_runs(services: Services) -> None:
    some_history(services)
    refusals: list[str] = []

    def progress(step: RebuildProgress) -> None:
        if step.phase == "write" and not refusals:
            with pytest.raises(RebuildFailed, match="another rebuild") as refused:
                rebuild(services.engine, services.store)
            refusals.append(str(refused.value))

    rebuild(services.engine, services.store, progress=progress)

    assert len(refusals) == 1
    assert view_rows(services.engine) == rebuilt_rows(services)


def test_a_stream_scan_gives_every_event_up_to_head_once_in_stream_order(
    services: Services,
) -> None:
    some_history(services, pledges=9)
    store = services.store
    head = store.max_notification_id() - 2
    with services.engine.connect() as connection:
        whole = store.scan_streams(connection, head=head, limit=10_000)
        paged: list[tuple[str, int, bytes]] = []
        while True:
            after = (paged[-1][0], paged[-1][1]) if paged else ("", 0)
            page = store.scan_streams(connection, head=head, after=after, limit=4)
            if not page:
                break
            paged.extend(page)
        registry = store.scan_streams(connection, head=head, below="pledge:", limit=10_000)
        bounds = store.stream_bounds(connection, head=head, start="pledge:", parts=3)
        runs = [
            store.scan_streams(
                connection,
                head=head,
                after=(bounds[i], 0),
                below=bounds[i + 1] if i + 1 < len(bounds) else None,
                limit=10_000,
            )
            for i in range(3)
        ]
    assert paged == whole
    assert len(whole) == head  # the two latest events are past the head
    assert [(s, v) for s, v, _ in whole] == sorted((s, v) for s, v, _ in whole)
    assert {open_envelope(raw).stream_id for s, _, raw in whole} == {s for s, _, _ in whole}
    assert registry == [row for row in whole if not row[0].startswith("pledge:")]
    pledge_rows = [row for row in whole if row[0].startswith("pledge:")]
    assert [row for run in runs for row in run] == pledge_rows  # every pledge event, once
    streams = [{s for s, _, _ in run} for run in runs]
    assert all(not (a & b) for i, a in enumerate(streams) for b in streams[i + 1 :])  # uncut
    assert all(run for run in runs)  # nine pledges are shared out among the three runs
