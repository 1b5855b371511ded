"""The roll-ups' history (ADR 0017) against its oracle, the fold of the log, on both backends.

For random histories written through the real ledger, caught up in random batches (so batches
span days and the runner cuts them), with a rebuild of the views somewhere in the middle and
random snapshot spacing: on random days, every roll-up of every dimension read from the history
equals the fold of the events recorded by then; so does it after the history is rebuilt from the
log; and where the history does not cover a day, the queries fold the log and still agree.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from unittest import mock

import psycopg
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from psycopg import sql
from sqlalchemy import delete, update

from api.bootstrap import Services, bootstrap
from domain.errors import DomainError
from ledger.clock import SeededIds, SteppingClock
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from projections import DIMENSIONS, ProjectionRunner, rebuild
from projections import history as history_module
from projections.as_of import (
    rollup_as_of,
    rollups_as_of,
    rollups_from_history,
    rollups_of,
    views_as_of,
)
from projections.history import HISTORY, build_history, history_position, part_of, parts_of
from projections.models import RollupOut
from projections.runner import read_position
from projections.tables import projection_position, read_snapshot
from tests.integration.test_projections_property import (
    FRESHNESS_MONTHS,
    START,
    STEPS,
    Step,
    register,
    run_step,
)


@contextmanager
def bulk_store(base: LedgerSettings, clock: SteppingClock) -> Iterator[Services]:
    """A new, empty store whose writers leave the views to the runner the test drives."""
    mode = WriteMode.BULK_LOAD
    if base.backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            settings = base.model_copy(
                update={"database_url": f"sqlite:///{Path(directory) / 'ledger.db'}"}
            )
            with bootstrap(settings, clock=clock, ids=SeededIds(11), write_mode=mode) as services:
                yield services
        return
    schema = f"h_{uuid.uuid4().hex[:12]}"
    settings = base.model_copy(update={"database_schema": schema})
    try:
        with bootstrap(settings, clock=clock, ids=SeededIds(11), write_mode=mode) as services:
            yield services
    finally:
        with psycopg.connect(base.database_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def folded(services: Services, day: date) -> dict[str, list[RollupOut]]:
    """The oracle: every roll-up of every dimension from a fold of the log up to ``day``."""
    cells = views_as_of(services.store, day).state.rollup_cells()
    return {d: rollups_of(cells, d, day, FRESHNESS_MONTHS) for d in DIMENSIONS}


def from_history(services: Services, day: date) -> dict[str, list[RollupOut] | None]:
    return {
        d: rollups_from_history(
            services.engine, services.store, d, day, freshness_months=FRESHNESS_MONTHS
        )
        for d in DIMENSIONS
    }


def in_lockstep(services: Services) -> bool:
    """Whether the history stands where the views stand (a rebuild of views that were behind
    the log leaves it behind: then it answers nothing until it is built again)."""
    with read_snapshot(services.engine) as connection:
        found = history_position(connection)
    return (
        found is not None
        and found.notification_id == read_position(services.engine).notification_id
    )


def assert_history_equals_fold(services: Services, days: list[date]) -> None:
    """On each day: the history answers (when in lockstep) and equals the fold of the log."""
    lockstep = in_lockstep(services)
    for day in days:
        expected = folded(services, day)
        answered = from_history(services, day)
        if not lockstep and answered == dict.fromkeys(DIMENSIONS):
            continue  # not covered: the queries fold the log (the other test)
        assert answered == expected, day
        for dimension, found in expected.items():
            for rollup in found[:3]:
                one = rollup_as_of(
                    services.store,
                    dimension,
                    rollup.key,
                    day,
                    freshness_months=FRESHNESS_MONTHS,
                    engine=services.engine,
                )
                assert one == rollup, (day, dimension, rollup.key)
        missing = rollup_as_of(
            services.store,
            "city",
            "no-such-city",
            day,
            freshness_months=FRESHNESS_MONTHS,
            engine=services.engine,
        )
        assert missing is None


def catch_up(services: Services, batch_size: int) -> None:
    ProjectionRunner(services.engine, services.store, batch_size=batch_size).catch_up()


@hypothesis_settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=STEPS,
    catch_ups=st.lists(st.booleans(), min_size=1),
    batch_sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1),
    rebuild_at=st.integers(min_value=0, max_value=30),
    ratio=st.sampled_from([0.0, 0.5, 100.0]),
    data=st.data(),
)
def test_roll_ups_from_the_history_equal_the_fold_of_the_log_on_random_days(
    settings: LedgerSettings,
    steps: list[Step],
    catch_ups: list[bool],
    batch_sizes: list[int],
    rebuild_at: int,
    ratio: float,
    data: st.DataObject,
) -> None:
    clock = SteppingClock(datetime.combine(START, time(8), tzinfo=UTC))
    with (
        mock.patch.object(history_module, "SNAPSHOT_RATIO", ratio),
        bulk_store(settings, clock) as services,
    ):
        ProjectionRunner(services.engine, services.store).install()
        register(services)
        pledges: list[tuple[str, str]] = []
        day = START
        for n, step in enumerate(steps):
            day += timedelta(days=step.days_later)
            clock.set(datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=n))
            with suppress(DomainError):  # refused by the rules: nothing was written
                run_step(services, step, pledges, day)
            if catch_ups[n % len(catch_ups)]:
                catch_up(services, batch_sizes[n % len(batch_sizes)])
            if n == rebuild_at:
                rebuild(services.engine, services.store, workers=1)
        catch_up(services, batch_sizes[0])

        days: Callable[[], date] = lambda: data.draw(  # noqa: E731
            st.dates(min_value=START - timedelta(days=1), max_value=day + timedelta(days=400))
        )
        sample = sorted({START, day, *(days() for _ in range(4))})
        assert_history_equals_fold(services, sample)

        build_history(services.engine, services.store)
        assert in_lockstep(services)
        assert_history_equals_fold(services, sample)

        # Built, the history goes on in lockstep with the views' batches.
        for n, step in enumerate(steps[:3]):
            day += timedelta(days=1 + step.days_later)
            clock.set(datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=n))
            with suppress(DomainError):
                run_step(services, step, pledges, day)
            catch_up(services, batch_sizes[n % len(batch_sizes)])
        assert in_lockstep(services)
        assert_history_equals_fold(services, [*sample, day - timedelta(days=1), day])


def test_a_history_that_does_not_cover_the_day_answers_none_and_the_query_folds_the_log(
    settings: LedgerSettings,
) -> None:
    clock = SteppingClock(datetime.combine(START, time(8), tzinfo=UTC))
    with bulk_store(settings, clock) as services:
        ProjectionRunner(services.engine, services.store).install()
        register(services)
        steps = [Step(0, "submit", 0, 10), Step(3, "submit", 2, 20), Step(30, "report", 0, 5)]
        pledges: list[tuple[str, str]] = []
        day = START
        for n, step in enumerate(steps):
            day += timedelta(days=step.days_later)
            clock.set(datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=n))
            run_step(services, step, pledges, day)
            if n == 0:
                catch_up(services, 100)
        # The views and the history stand after the first day: later days are not covered.
        assert from_history(services, START)["all"] == folded(services, START)["all"]
        assert from_history(services, day)["all"] is None
        through_fold = rollups_as_of(
            services.store, "all", day, freshness_months=FRESHNESS_MONTHS, engine=services.engine
        )
        assert through_fold == folded(services, day)["all"]
        assert through_fold[0].pledges == 2

        # A history left behind (a store from before it): nothing is answered from it, even
        # for a day it once covered, until it is built again.
        catch_up(services, 100)
        with services.engine.begin() as connection:
            connection.execute(
                update(projection_position)
                .where(projection_position.c.name == HISTORY)
                .values(notification_id=0, events=0)
            )
        assert from_history(services, START)["all"] is None
        catch_up(services, 100)
        assert from_history(services, day)["all"] is None  # the runner does not write past a gap
        result = build_history(services.engine, services.store)
        assert result.events == services.store.max_notification_id()
        assert_history_equals_fold(services, [START, day - timedelta(days=1), day])


def test_an_event_recorded_on_an_earlier_day_drops_the_snapshots_it_makes_wrong(
    settings: LedgerSettings,
) -> None:
    """Two writers whose clocks disagree: the second records events on days the history has
    already closed and snapshotted. Its answers stay those of the fold."""
    clock = SteppingClock(datetime.combine(START, time(8), tzinfo=UTC))
    with (
        mock.patch.object(history_module, "SNAPSHOT_RATIO", 0.0),  # a snapshot every day
        bulk_store(settings, clock) as services,
    ):
        ProjectionRunner(services.engine, services.store).install()
        register(services)
        pledges: list[tuple[str, str]] = []
        for n, days_later in enumerate((0, 2, 4, 6)):
            day = START + timedelta(days=days_later)
            clock.set(datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=n))
            # which = 3n: never the unregistered later call (which % 3 == 1 answers a call)
            run_step(services, Step(0, "submit", 3 * n, 10 * n), pledges, day)
            catch_up(services, 100)
        # A clock behind by five days, on a second writer of the same store.
        late = SteppingClock(datetime.combine(START + timedelta(days=1), time(10), tzinfo=UTC))
        with bootstrap(
            services.settings, clock=late, ids=SeededIds(12), write_mode=WriteMode.BULK_LOAD
        ) as behind:
            run_step(behind, Step(0, "report", 0, 7), pledges, START + timedelta(days=1))
            run_step(behind, Step(0, "validate", 4, 0), pledges, START + timedelta(days=1))
            catch_up(behind, 100)
        assert in_lockstep(services)
        assert_history_equals_fold(services, [START + timedelta(days=d) for d in range(-1, 9)])

        # Written again from the log, where a day comes back after later ones: the same answers.
        clock.set(datetime.combine(START + timedelta(days=6), time(11), tzinfo=UTC))
        run_step(services, Step(0, "submit", 18, 5), pledges, START + timedelta(days=6))
        catch_up(services, 100)
        build_history(services.engine, services.store)
        assert in_lockstep(services)
        assert_history_equals_fold(services, [START + timedelta(days=d) for d in range(-1, 9)])


def test_one_city_as_of_a_day_reads_only_the_part_of_the_history_that_keeps_it(
    settings: LedgerSettings,
) -> None:
    """The city dimension is kept in parts (``CITY_PARTS``): a city's roll-up as of a day reads
    its own part, so it costs a part's rows however many cities the ledger names."""
    clock = SteppingClock(datetime.combine(START, time(8), tzinfo=UTC))
    with bulk_store(settings, clock) as services:
        ProjectionRunner(services.engine, services.store).install()
        register(services)
        pledges: list[tuple[str, str]] = []
        day = START
        for n, which in enumerate((0, 3, 6, 9, 12, 18)):  # Rabat and Tangier, no later call
            day = START + timedelta(days=n)
            clock.set(datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=n))
            run_step(services, Step(0, "submit", which, 10 * n), pledges, day)
            catch_up(services, 100)
        expected = folded(services, day)["city"]
        parts = {part_of("city", rollup.key) for rollup in expected}
        assert len(parts) > 1, parts  # the cities of the scenario are kept in different parts
        target = expected[0]
        mine = part_of("city", target.key)
        with services.engine.begin() as connection:  # every other part of the cities is lost
            for table in (history_module.history_changes, history_module.history_snapshots):
                connection.execute(
                    delete(table).where(
                        table.c.dimension.in_(parts_of("city")), table.c.dimension != mine
                    )
                )

        one = rollup_as_of(
            services.store,
            "city",
            target.key,
            day,
            freshness_months=FRESHNESS_MONTHS,
            engine=services.engine,
        )
        every = from_history(services, day)["city"]

        assert one == target
        assert every == [r for r in expected if part_of("city", r.key) == mine]


def test_a_history_written_before_the_parts_is_not_read_until_it_is_built_again(
    settings: LedgerSettings,
) -> None:
    """A store whose history has the tracking row of the layout before the parts (``as_of``,
    one row per dimension): its as-of queries fold the log, and ``build_history`` writes the
    history again in parts."""
    clock = SteppingClock(datetime.combine(START, time(8), tzinfo=UTC))
    with bulk_store(settings, clock) as services:
        ProjectionRunner(services.engine, services.store).install()
        register(services)
        pledges: list[tuple[str, str]] = []
        run_step(services, Step(0, "submit", 0, 10), pledges, START)
        catch_up(services, 100)
        with services.engine.begin() as connection:  # as a store of the earlier layout
            connection.execute(
                update(projection_position)
                .where(projection_position.c.name == HISTORY)
                .values(name="as_of")
            )
            connection.execute(
                update(history_module.history_changes)
                .where(history_module.history_changes.c.dimension.in_(parts_of("city")))
                .values(dimension="city")
            )

        assert from_history(services, START) == dict.fromkeys(DIMENSIONS)
        assert (
            rollups_as_of(
                services.store,
                "city",
                START,
                freshness_months=FRESHNESS_MONTHS,
                engine=services.engine,
            )
            == folded(services, START)["city"]
        )

        build_history(services.engine, services.store)
        assert_history_equals_fold(services, [START - timedelta(days=1), START])
