"""How far the views stand behind the log, and catch-up's progress, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from api.bootstrap import Services
from ledger.write_path import WriteMode
from projections import ProjectionRunner
from tests.integration.ledger_scenario import event_count
from tests.integration.test_projections_runner import some_history


def test_behind_counts_the_events_the_views_have_not_taken_in(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.APPEND_ONLY)
    some_history(services)
    runner = ProjectionRunner(services.engine, services.store, batch_size=3)
    runner.run_batch()

    assert runner.behind() == event_count(services) - 3


def test_catch_up_reports_the_events_applied_after_every_batch(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.APPEND_ONLY)
    some_history(services)
    runner = ProjectionRunner(services.engine, services.store, batch_size=3)
    heard: list[int] = []

    applied = runner.catch_up(progress=heard.append)

    assert heard == [*range(3, applied, 3), applied]
    assert applied == event_count(services)
    assert runner.behind() == 0
